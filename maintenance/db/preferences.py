"""Managers' maintenance settings, kept in ``maintenance.json`` in the data directory.

A file, not a table: the retention setting must survive restoring an older
database.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

PREFERENCES_FILE = "maintenance.json"


def _read(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / PREFERENCES_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def backup_retention(data_dir: Path) -> int:
    """Return how many automatic backups to keep."""
    value = _read(data_dir).get("backup_retention")
    return int(value) if isinstance(value, int) and value >= 1 else settings.AURSWIFT_BACKUP_RETENTION


def set_backup_retention(data_dir: Path, keep: int) -> None:
    if not 1 <= keep <= 1000:
        raise ValueError("Keep between 1 and 1000 automatic backups.")
    data = _read(data_dir)
    data["backup_retention"] = keep
    path = data_dir / PREFERENCES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
