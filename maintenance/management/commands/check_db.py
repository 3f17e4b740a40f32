"""``manage.py check_db``: the full health report; exit 0 healthy, 1 otherwise; changes nothing."""

from __future__ import annotations

from django.conf import settings

from maintenance.config import live_db_path
from maintenance.db.health import check_health
from maintenance.management.base import MaintenanceCommand, Outcome


class Command(MaintenanceCommand):
    help = "Check the database fully (integrity, foreign keys, fingerprints, pending migrations, disk)."
    error_exit_code = 1  # a database that cannot even be opened or read is not healthy either

    def run(self, *, as_json: bool, **options) -> Outcome:
        report = check_health(live_db_path(), settings.DATA_DIR, full=True)
        return Outcome(
            lines=report.lines(),
            data=report.as_dict(),
            exit_code=0 if report.healthy else 1,
            failure="The database is not healthy (see the report above).",
        )
