"""``manage.py backup_db``: a verified backup now; prints its path (may run beside the app)."""

from __future__ import annotations

from django.conf import settings

from maintenance.config import backups_dir, live_db_path
from maintenance.db.backups import create_manual_backup
from maintenance.management.base import MaintenanceCommand, Outcome


class Command(MaintenanceCommand):
    help = "Make a verified backup of the database now and print its path."
    #: Django's system checks import the URLs and the admin (about 0.2 s) and only warn about settings;
    #: the command reports any real problem itself.
    requires_system_checks: list[str] = []
    stopped_message = "No backup was kept; the database was not changed."

    def run(self, *, as_json: bool, **options) -> Outcome:
        info = create_manual_backup(
            live_db_path(), backups_dir(settings.DATA_DIR), progress=None if as_json else self.progress(as_json)
        )
        return Outcome(lines=[str(info.path)], data={"outcome": "backed_up", **info.as_dict()})
