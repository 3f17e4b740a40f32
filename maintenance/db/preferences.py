"""Managers' maintenance settings, kept in ``maintenance.json`` in the data directory.

A file, not a table: the retention setting must survive restoring an older
database.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from maintenance import exceptions
from maintenance.files import write_json_atomic

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


def set_backup_retention(data_dir: Path, keep: int | str) -> None:
    """Save how many automatic backups to keep (a whole number from 1 to 1000, typed or given)."""
    text = str(keep).strip()
    if not (text.isascii() and text.isdigit()):
        raise exceptions.InvalidSettingError("Enter a whole number of backups to keep, from 1 to 1000.")
    if not 1 <= int(text) <= 1000:
        raise exceptions.InvalidSettingError("Keep between 1 and 1000 automatic backups.")
    data = _read(data_dir)
    data["backup_retention"] = int(text)
    write_json_atomic(data_dir / PREFERENCES_FILE, data)
