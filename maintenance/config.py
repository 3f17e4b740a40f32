"""Where maintenance keeps its files, and which database it guards: one frozen object, built once.

The shell (settings, the launcher) decides the data directory and the
database; this app only reads them through :class:`MaintenanceConfig`, so
``maintenance/db`` never imports the shell. The folder names are this app's:
``backups/``, ``logs/``, ``updates/`` under the data directory (docs/design.md section 3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from maintenance import exceptions


def backups_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "backups"


def logs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "logs"


def updates_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "updates"


@dataclass(frozen=True)
class MaintenanceConfig:
    """The database file and the data directory a command, a page or start-up works on."""

    db_path: Path
    data_dir: Path
    app_version: str

    @property
    def backups_dir(self) -> Path:
        return backups_dir(self.data_dir)

    @property
    def logs_dir(self) -> Path:
        return logs_dir(self.data_dir)

    @classmethod
    def from_settings(cls) -> MaintenanceConfig:
        """Build the configuration from Django settings (the only place this app reads them for paths)."""
        return cls(db_path=live_db_path(), data_dir=Path(settings.DATA_DIR), app_version=app_version())


def app_version() -> str:
    """Return the version of the running app (the shell sets ``AURSWIFT_VERSION``)."""
    return str(settings.AURSWIFT_VERSION)


def live_db_path() -> Path:
    """Return the configured SQLite database file, links followed.

    SQLite itself follows a link to the file (its log and journal lie beside
    the real file); backups, restores and swaps must act on that file too,
    never replace the link with a copy and leave the real file behind.
    """
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        raise exceptions.MaintenanceError(
            "The guarded upgrade supports the embedded SQLite database only in this version."
        )
    return Path(os.path.realpath(db["NAME"]))
