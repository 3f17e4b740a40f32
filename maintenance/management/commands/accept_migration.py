"""``manage.py accept_migration APP NAME --reason TEXT``: accept a deliberate change to an applied migration."""

from __future__ import annotations

from django.conf import settings

from maintenance.config import live_db_path
from maintenance.db.acceptance import accept_changed_migration
from maintenance.management.base import MaintenanceCommand, Outcome


class Command(MaintenanceCommand):
    help = "Accept the current code of an applied migration whose fingerprint changed (logged)."

    def add_options(self, parser) -> None:
        parser.add_argument("app")
        parser.add_argument("name")
        parser.add_argument("--reason", required=True, help="why the change is deliberate (kept in the history)")

    def run(self, *, as_json: bool, app: str = "", name: str = "", reason: str = "", **options) -> Outcome:
        done = accept_changed_migration(live_db_path(), settings.DATA_DIR, app, name, reason=reason)
        return Outcome(
            lines=[f"Accepted {done.migration}: {done.old_sha256 or 'none'} -> {done.new_sha256}"],
            data={"outcome": "accepted", **done.__dict__},
        )
