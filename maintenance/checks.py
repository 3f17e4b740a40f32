"""System checks: misconfiguration is reported when Django starts, not deep inside an upgrade."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.database)
def check_database_engine(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn that the guarded upgrade protects the embedded SQLite database only."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return []
    return [
        checks.Warning(
            f"The guarded upgrade supports the embedded SQLite database only; {engine} runs unguarded.",
            hint="Back up the database with its own tools before every update.",
            id="maintenance.W001",
        )
    ]


@checks.register()
def check_data_dir(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn when the data directory cannot be written (backups, markers and the lock live there)."""
    data_dir = Path(settings.DATA_DIR)
    if data_dir.is_dir() and os.access(data_dir, os.W_OK):
        return []
    return [
        checks.Warning(
            f"The data directory {data_dir} cannot be written: upgrades, backups and restores will be refused.",
            hint="Point AURSWIFT_DATA_DIR at a writable folder.",
            id="maintenance.W002",
        )
    ]


@checks.register()
def check_update_trust(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An update channel without a trusted root would trust nothing: say so."""
    if not settings.AURSWIFT_UPDATE_URL:
        return []
    root = Path(
        settings.AURSWIFT_UPDATE_TRUSTED_ROOT or Path(settings.BASE_DIR) / "maintenance/updates/trusted_root.json"
    )
    if root.is_file():
        return []
    return [
        checks.Warning(
            f"AURSWIFT_UPDATE_URL is set but the trusted root metadata {root} is missing: every update is refused.",
            hint="Ship maintenance/updates/trusted_root.json with the app, or set AURSWIFT_UPDATE_TRUSTED_ROOT.",
            id="maintenance.W003",
        )
    ]
