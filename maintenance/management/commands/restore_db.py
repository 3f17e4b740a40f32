"""``manage.py restore_db PATH``: restore a backup, after taking a restore point."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from maintenance.db.recovery import restore_from_backup
from maintenance.db.upgrade import live_db_path
from maintenance.exceptions import MaintenanceError
from maintenance.management.commands._common import exit_with, stderr_progress


class Command(BaseCommand):
    help = "Restore the database from a backup file (a restore point of the current database is taken first)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="the backup file to restore")

    def handle(self, *args, path: Path, **options) -> None:
        if not path.is_file():
            self.stderr.write(f"No backup file at {path}.")
            exit_with(2)
            return
        try:
            point = restore_from_backup(
                path.resolve(), live_db_path(), settings.DATA_DIR, progress=stderr_progress(self)
            )
        except MaintenanceError as err:
            self.stderr.write(f"{err.title}: {err.message}")
            exit_with(err.exit_code if err.exit_code != 0 else 1)
            return
        if point:
            self.stdout.write(f"Restore point: {point.path}")
        self.stdout.write(f"Restored: {path}")
