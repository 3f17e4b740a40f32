"""``manage.py upgrade_db``: the guarded upgrade (docs/design.md sections 4 and 7).

Exit 0 up to date or upgraded; 2 refused before any change; 3 a step failed
and the database was restored; 4 the restore failed (the backup path is printed).
"""

from __future__ import annotations

from maintenance.config import MaintenanceConfig
from maintenance.db.upgrade import run_guarded_upgrade
from maintenance.management.base import MaintenanceCommand, Outcome


class Command(MaintenanceCommand):
    help = "Upgrade the database safely: check, back up, migrate, verify, restore on failure."
    #: the run says itself what a stop left where it can (before migrating: exit 2; while migrating or
    #: verifying: the backup is put back, exit 3; once verified: it finishes); this covers the rest
    stopped_message = (
        "If the upgrade had begun migrating, the next start of AurSwift (or upgrade_db) puts back the backup "
        "it made; otherwise nothing was changed. Nothing is lost."
    )

    def add_options(self, parser) -> None:
        parser.add_argument("--plan", action="store_true", help="print the pending migrations; change nothing")

    def run(self, *, as_json: bool, plan: bool = False, **options) -> Outcome:
        report = run_guarded_upgrade(
            config=MaintenanceConfig.from_settings(),
            progress=None if as_json else self.progress(as_json),
            plan_only=plan,
            reason="command",
        )
        if plan:
            lines = report.pending or ["No pending migrations."]
        elif report.outcome == "up_to_date":
            lines = ["Database is up to date."]
        else:
            lines = [f"Database upgraded: {len(report.applied)} migration(s) applied."]
            if report.backup:
                lines.append(f"Backup: {report.backup.path}")
        return Outcome(lines=lines, data=report.as_dict())
