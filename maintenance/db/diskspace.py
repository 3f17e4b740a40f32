"""The disk-space rule of the guarded upgrade: free ≥ max(50 MB, 2.5 × (db + wal))."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import psutil

from maintenance import exceptions
from maintenance.db.sqlite_tools import has_sqlite_header, journal_path, size_with_wal, wal_bytes

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


def can_link(db_path: Path, folder: Path) -> bool:
    """Whether a file beside the database can be hard-linked into ``folder`` (one file system that has links).

    Tried with an empty probe file, not assumed from device numbers: some
    file systems (FAT, exFAT, some network shares) have no hard links.
    """
    while not folder.exists():  # the backups folder may not exist yet: it will be made in its parent
        folder = folder.parent
    probe = target = None
    try:
        handle, name = tempfile.mkstemp(prefix=".aurswift-link-probe-", dir=db_path.parent)
        os.close(handle)
        probe = Path(name)
        target = folder / (probe.name + ".link")
        os.link(probe, target)
        return True
    except OSError:
        return False
    finally:
        for path in (target, probe):
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()


def bytes_to_restore(backup_path: Path, db_path: Path, backups_dir: Path) -> int:
    """What a restore writes: a copy of the backup beside the database, and the restore point.

    The restore point is the current file itself, hard-linked into
    ``backups_dir`` after its log is checkpointed into it (the file grows by
    at most the log); where no link can be made it is a copy of the database.
    """
    if not db_path.exists():
        return backup_path.stat().st_size
    linked = _can_be_sealed(db_path) and can_link(db_path, backups_dir)
    point = wal_bytes(db_path) if linked else size_with_wal(db_path)
    return backup_path.stat().st_size + point


def _can_be_sealed(db_path: Path) -> bool:
    """Whether the restore point can be the file itself: an SQLite file without a rollback journal to undo.

    A damaged header or a hot journal makes the restore point a copy
    (:func:`maintenance.db.backups.keep_live_as_restore_point`): room for it is asked up front.
    """
    try:
        if not has_sqlite_header(db_path):
            return False
        journal = journal_path(db_path)
        return not (journal.exists() and journal.stat().st_size)
    except OSError:
        return False


def ensure_space_for_restore(backup_path: Path, db_path: Path, backups_dir: Path) -> None:
    """Refuse a restore up front, with the sizes, when what it writes (:func:`bytes_to_restore`) does not fit."""
    db_bytes = size_with_wal(db_path) if db_path.exists() else 0
    needed = bytes_to_restore(backup_path, db_path, backups_dir)
    _ensure_copy_fits("restore this backup", db_path.parent, db_bytes, needed)
