"""``manage.py restore_db PATH``: validate a backup, take a restore point, restore (exit 2 if invalid)."""

from __future__ import annotations

from pathlib import Path

from maintenance.config import MaintenanceConfig
from maintenance.db.recovery import restore_from_backup
from maintenance.management.base import MaintenanceCommand, Outcome


class Command(MaintenanceCommand):
    help = "Restore the database from a backup file (a restore point of the current database is taken first)."
    #: Django's system checks import the URLs and the admin (about 0.2 s) and only warn about settings;
    #: the command reports any real problem itself.
    requires_system_checks: list[str] = []
    stopped_message = (
        "The database is either as it was or restored from the backup, never in between "
        "(a restore stopped after it began replacing the file is finished at the next start); "
        "check_db shows which. Nothing is lost."
    )

    def add_options(self, parser) -> None:
        parser.add_argument("path", type=Path, help="the backup file to restore")

    def run(self, *, as_json: bool, path: Path | None = None, **options) -> Outcome:
        assert path is not None  # a required positional argument of the command
        path = path.resolve()
        point = restore_from_backup(
            path, MaintenanceConfig.from_settings(), progress=None if as_json else self.progress(as_json)
        )
        lines = [f"Restore point: {point.path}"] if point else []
        lines.append(f"Restored: {path}")
        return Outcome(
            lines=lines,
            data={"outcome": "restored", "backup": str(path), "restore_point": str(point.path) if point else None},
        )
