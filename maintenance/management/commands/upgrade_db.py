"""``manage.py upgrade_db``: the guarded upgrade (DESIGN.md sections 4 and 7).

Exit 0 up to date or upgraded; 2 refused before any change; 3 a step failed
and the database was restored; 4 the restore failed (the backup path is printed).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from maintenance.db.upgrade import run_guarded_upgrade
from maintenance.exceptions import MaintenanceError
from maintenance.management.commands._common import exit_with, stderr_progress


class Command(BaseCommand):
    help = "Upgrade the database safely: check, back up, migrate, verify, restore on failure."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--plan", action="store_true", help="print the pending migrations; change nothing")
        parser.add_argument("--json", action="store_true", help="print exactly one JSON object with the outcome")

    def handle(self, *args, plan: bool = False, json: bool = False, **options) -> None:
        as_json = json
        try:
            report = run_guarded_upgrade(
                progress=None if as_json else stderr_progress(self), plan_only=plan, reason="command"
            )
        except MaintenanceError as err:
            if as_json:
                self.stdout.write(_dumps(err.as_dict()))
            else:
                self.stderr.write(f"{err.title}: {err.message}")
                backup = err.details.get("backup_path")
                if backup:
                    self.stdout.write(f"Backup: {backup}")
            exit_with(err.exit_code)
            return
        if as_json:
            self.stdout.write(_dumps(report.as_dict()))
        elif plan:
            for name in report.pending:
                self.stdout.write(name)
            if not report.pending:
                self.stdout.write("No pending migrations.")
        elif report.outcome == "up_to_date":
            self.stdout.write("Database is up to date.")
        else:
            self.stdout.write(f"Database upgraded: {len(report.applied)} migration(s) applied.")
            if report.backup:
                self.stdout.write(f"Backup: {report.backup.path}")


def _dumps(data: dict) -> str:
    return json.dumps(data, default=str)
