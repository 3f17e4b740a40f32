"""``manage.py backup_db``: a verified backup now; prints its path."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from aurswift.paths import backups_dir
from maintenance.db.backups import create_manual_backup
from maintenance.db.upgrade import live_db_path
from maintenance.exceptions import MaintenanceError
from maintenance.management.commands._common import exit_with, stderr_progress


class Command(BaseCommand):
    help = "Make a verified backup of the database now and print its path."

    def handle(self, *args, **options) -> None:
        try:
            info = create_manual_backup(live_db_path(), backups_dir(settings.DATA_DIR), progress=stderr_progress(self))
        except MaintenanceError as err:
            self.stderr.write(f"{err.title}: {err.message}")
            exit_with(err.exit_code if err.exit_code != 0 else 1)
            return
        self.stdout.write(str(info.path))
