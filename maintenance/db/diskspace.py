"""The disk-space rule of the guarded upgrade: free ≥ max(50 MB, 2.5 × (db + wal))."""

from __future__ import annotations

from pathlib import Path

import psutil

from maintenance import exceptions
from maintenance.db.sqlite_tools import size_with_wal

MB = 1024 * 1024
MINIMUM_FREE = 50 * MB
FACTOR = 2.5
COPY_MARGIN = 8 * MB  # room for the sidecar, the WAL growing meanwhile, and the file system's own needs


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


def _free_bytes(folder: Path) -> int:
    while not folder.exists():  # the backups folder may not exist yet: ask its parent's disk
        folder = folder.parent
    return psutil.disk_usage(str(folder)).free


def _ensure_copy_fits(action: str, folder: Path, db_bytes: int, copy_bytes: int) -> None:
    needed = copy_bytes + COPY_MARGIN
    free = _free_bytes(folder)
    if free < needed:
        raise exceptions.NotEnoughSpaceToCopyError(
            action,
            database_mb=round(db_bytes / MB, 1),
            required_mb=round(needed / MB, 1),
            available_mb=round(free / MB, 1),
        )


def ensure_space_for_backup(db_path: Path, backups_dir: Path) -> None:
    """Refuse a manual backup up front, with the sizes, rather than failing half way through the copy."""
    db_bytes = size_with_wal(db_path)
    _ensure_copy_fits("back up the database", backups_dir, db_bytes, db_bytes)


def ensure_space_for_restore(backup_path: Path, db_path: Path) -> None:
    """A restore writes a restore point of the current database and a copy of the backup."""
    db_bytes = size_with_wal(db_path) if db_path.exists() else 0
    _ensure_copy_fits("restore this backup", db_path.parent, db_bytes, db_bytes + backup_path.stat().st_size)
