"""Recovery actions behind the buttons of the recovery pages (docs/design.md section 4).

Each action keeps the database it replaces: "Backup & Start Fresh" and "Try
Repair" move it aside as ``pos_system.db.old.<stamp>`` (byte-identical, never
deleted), and "Restore from Backup" first takes a restore point.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connections

from maintenance import exceptions
from maintenance.config import MaintenanceConfig
from maintenance.db import backups, diskspace, markers, moves, salvage, writer_lock
from maintenance.db.health import kept_aside_files
from maintenance.db.integrity import check_file
from maintenance.db.progress import ProgressCallback, Step, emit
from maintenance.db.salvage import TableRecovery
from maintenance.db.sqlite_tools import roll_back_hot_journal, side_files
from maintenance.files import read_json

__all__ = [
    "backup_and_start_fresh",
    "restore_from_backup",
    "try_repair",
    "kept_aside_files",
    "RepairReport",
    "TableRecovery",
]


def keep_aside(db_path: Path, now: datetime | None = None) -> Path:
    """Move the database (and its -wal/-shm/-journal) aside unchanged; return the new name.

    A rename never rewrites a byte, and the side files move with their
    database as one crash-safe group (:mod:`maintenance.db.moves`), so the
    kept file is exactly what was on disk.
    """
    connections.close_all()
    old = moves.kept_aside_name(db_path, now)
    moves.run(db_path.parent, "keep_aside", moves.keep_aside_moves(db_path, old))
    return old


def backup_and_start_fresh(config: MaintenanceConfig, *, now: datetime | None = None) -> Path:
    """Keep the current database aside and create a fresh, fully migrated one.

    Return the path of the kept-aside database. A hot rollback journal is
    rolled back first, so the kept file is a consistent database.
    """
    from maintenance.db.upgrade import run_guarded_upgrade

    db_path = config.db_path
    with writer_lock.held(config.data_dir):
        markers.discard_stale(db_path)
        old = None
        if db_path.exists():
            roll_back_hot_journal(db_path)
            old = keep_aside(db_path, now)
        run_guarded_upgrade(config=config, reason="start_fresh")
        connections.close_all()
    return old or db_path


#: One restore at a time in this process (the admin's and the start-up's; re-entrant for the same thread).
_restoring = threading.RLock()


@contextlib.contextmanager
def _one_restore_at_a_time() -> Iterator[None]:
    if not _restoring.acquire(blocking=False):
        raise exceptions.RecoveryInProgressError("A restore is already running. Wait for it to finish.")
    try:
        yield
    finally:
        _restoring.release()


def restore_from_backup(
    backup_path: Path,
    config: MaintenanceConfig,
    *,
    progress: ProgressCallback | None = None,
    validate: bool = True,
    staged: backups.StagedRestore | None = None,
) -> backups.BackupInfo | None:
    """Restore ``backup_path`` over the live database, keeping the live one as a restore point.

    The backup is validated while it is copied beside the database (its
    sha256 from the copy itself, ``quick_check`` in a second thread), and the
    live file is hashed meanwhile; if the backup is not sound, nothing has
    changed. The restore point is then the live file itself, kept by a hard
    link, or a copy where that cannot be done
    (:func:`maintenance.db.backups.restore_with_restore_point`). ``staged``:
    the backup was already validated and copied (:func:`restore_while_running`
    does that before it closes the gate). Return the restore point. The
    caller runs the guarded upgrade afterwards if the backup predates this
    version's migrations.
    """
    db_path = config.db_path
    with _one_restore_at_a_time(), writer_lock.held(config.data_dir):
        if staged is None:
            if not backup_path.is_file():
                backups.validate_backup(backup_path)  # raises the "no such file" refusal at once
            diskspace.ensure_space_for_restore(backup_path, db_path, config.backups_dir)
        markers.refuse_if_running(read_json(markers.marker_path(db_path)) or {})
        connections.close_all()
        point = backups.restore_with_restore_point(
            backup_path, db_path, config.backups_dir, validate=validate, staged=staged, progress=progress
        )
        markers.discard_stale(db_path)
    return point


def restore_while_running(backup_path: Path, config: MaintenanceConfig) -> tuple[backups.BackupInfo | None, list[str]]:
    """Restore a backup under a running till and bring it up to this version's schema.

    The backup is validated and copied beside the database while the till
    still serves; then the swap gate is held exclusively: requests in flight
    finish first (their sales land in the restore point) and new ones wait
    until the restored database is upgraded. Inside the gate only the live
    file is sealed, hashed and kept as the restore point (a hard link, not a
    copy), and the staged copy renamed over it. Return the restore point and
    the migrations applied.
    """
    from maintenance.db.swap_gate import gate
    from maintenance.db.upgrade import run_guarded_upgrade

    db_path = config.db_path
    with _one_restore_at_a_time(), writer_lock.held(config.data_dir):
        if not backup_path.is_file():
            backups.validate_backup(backup_path)
        diskspace.ensure_space_for_restore(backup_path, db_path, config.backups_dir)
        staged = backups.stage_restore(backup_path, db_path, validate=True)
        try:
            with gate.exclusive():
                point = restore_from_backup(backup_path, config, staged=staged)
                report = run_guarded_upgrade(config=config, reason="after_restore")
        finally:
            staged.discard()
    return point, list(report.applied)


@dataclass
class RepairReport:
    method: str  # "sqlite3 .recover" | "table copy" | "table copy (stopped at the time budget)"
    ok: bool
    kept_aside: Path | None
    tables: list[TableRecovery] = field(default_factory=list)
    message: str = ""


_repairing = threading.Lock()


def try_repair(
    config: MaintenanceConfig, *, now: datetime | None = None, progress: ProgressCallback | None = None
) -> RepairReport:
    """Salvage what can be read into a new database; keep the original aside.

    One repair at a time, in bounded time (:mod:`maintenance.db.salvage`
    skips unreadable pages). Works on a scratch copy in the database's folder,
    so the damaged original is never opened for writing; the salvaged file
    replaces the live database only if it passes ``integrity_check``, and that
    swap is one crash-safe group of moves with keeping the original aside.
    """
    if not _repairing.acquire(blocking=False):
        raise exceptions.RecoveryInProgressError("A repair is already running. Wait for it to finish.")
    try:
        with writer_lock.held(config.data_dir):
            return _repair(config.db_path, now, progress)
    finally:
        _repairing.release()


def _repair(db_path: Path, now: datetime | None, progress: ProgressCallback | None) -> RepairReport:
    connections.close_all()
    repaired = db_path.with_name(db_path.name + ".repair-tmp")
    repaired.unlink(missing_ok=True)

    def report(table: str, done: int, total: int) -> None:
        emit(progress, Step.REPAIR, f"Repairing: {done} of {total} tables ({table})", current=done, total=total)

    with tempfile.TemporaryDirectory(dir=db_path.parent, prefix=".repair-") as scratch_dir:
        scratch = Path(scratch_dir) / "damaged.db"
        emit(progress, Step.REPAIR, "Copying the damaged database to work on…")
        shutil.copyfile(db_path, scratch)
        for side in side_files(db_path):
            if side.exists() and not side.name.endswith("-shm"):
                shutil.copyfile(side, scratch.with_name(scratch.name + side.name[len(db_path.name) :]))
        try:
            method, tables = salvage.salvage(scratch, repaired, progress=report)
        except (sqlite3.DatabaseError, OSError) as err:
            repaired.unlink(missing_ok=True)
            return RepairReport("table copy", False, None, message=f"Nothing could be recovered: {err}")
    check = check_file(repaired, full=True, foreign_keys=False)
    if not check.ok or not tables:
        repaired.unlink(missing_ok=True)
        return RepairReport(
            method,
            False,
            None,
            tables,
            message=f"The salvaged database is not usable ({check.summary}); nothing was changed.",
        )
    old = moves.kept_aside_name(db_path, now)
    moves.run(db_path.parent, "repair", [*moves.keep_aside_moves(db_path, old), moves.Move(repaired, db_path)])
    return RepairReport(method, True, old, tables, message=_summary(tables, old))


def _summary(tables: list[TableRecovery], old: Path) -> str:
    """Say what was recovered and lost, never claiming "0 lost" where the damaged file cannot be counted."""
    recovered = sum(t.recovered_rows for t in tables)
    uncounted = [t.table for t in tables if t.lost_rows is None]
    lost = sum(t.lost_rows or 0 for t in tables)
    text = f"Recovered {recovered} rows; {lost} rows lost"
    if uncounted:
        text += f", and an unknown number in {', '.join(uncounted)} (the damaged pages cannot be counted)"
    return f"{text}. The damaged database is kept as {old.name}."
