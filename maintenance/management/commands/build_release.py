"""``manage.py build_release --repo DIR``: the next release, signed, in an update repository; prints the version."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from maintenance.exceptions import MaintenanceError
from maintenance.management.commands._common import exit_with
from maintenance.updates.release import build_release


class Command(BaseCommand):
    help = "Build the next release from conventional commits into an update repository (created if new)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repo", type=Path, required=True, help="the update repository folder")
        parser.add_argument("--project", type=Path, default=None, help="the git work tree (default: this app)")

    def handle(self, *args, repo: Path, project: Path | None = None, **options) -> None:
        try:
            release = build_release((project or Path(settings.BASE_DIR)).resolve(), repo.resolve())
        except MaintenanceError as err:
            self.stderr.write(f"{err.title}: {err.message}")
            exit_with(1)
            return
        self.stderr.write(f"Release notes:\n{release.notes}\nArchive: {release.archive}")
        self.stdout.write(release.version)
