"""The disk-space rule of the guarded upgrade: free ≥ max(50 MB, 2.5 × (db + wal))."""

from __future__ import annotations

from pathlib import Path

import psutil

from maintenance import exceptions
from maintenance.db.sqlite_tools import size_with_wal

MB = 1024 * 1024
MINIMUM_FREE = 50 * MB
FACTOR = 2.5


def required_bytes(db_bytes: int) -> int:
    return max(MINIMUM_FREE, int(FACTOR * db_bytes))


def ensure_space(db_path: Path) -> None:
    """Raise InsufficientDiskSpaceError unless a backup and a migration fit on the disk."""
    db_bytes = size_with_wal(db_path)
    needed = required_bytes(db_bytes)
    free = psutil.disk_usage(str(db_path.parent)).free
    if free < needed:
        raise exceptions.InsufficientDiskSpaceError(
            database_mb=round(db_bytes / MB, 1), required_mb=round(needed / MB, 1), available_mb=round(free / MB, 1)
        )
