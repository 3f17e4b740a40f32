"""Recovery actions behind the buttons of the recovery pages (DESIGN.md section 4).

Each action keeps the database it replaces: "Backup & Start Fresh" and "Try
Repair" move it aside as ``pos_system.db.old.<stamp>`` (byte-identical, never
deleted), and "Restore from Backup" first takes a restore point.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connections

from aurswift.paths import backups_dir
from maintenance import exceptions
from maintenance.db import backups, diskspace, moves, writer_lock
from maintenance.db.health import kept_aside_files
from maintenance.db.integrity import check_file
from maintenance.db.progress import ProgressCallback
from maintenance.db.sqlite_tools import list_tables, roll_back_hot_journal, wal_path
from maintenance.files import fsync_dir

__all__ = ["backup_and_start_fresh", "restore_from_backup", "try_repair", "kept_aside_files", "RepairReport"]


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


def backup_and_start_fresh(db_path: Path, data_dir: Path, *, now: datetime | None = None) -> Path:
    """Keep the current database aside and create a fresh, fully migrated one.

    Return the path of the kept-aside database. A hot rollback journal is
    rolled back first, so the kept file is a consistent database.
    """
    from maintenance.db.upgrade import run_guarded_upgrade

    with writer_lock.held(data_dir):
        old = None
        if db_path.exists():
            roll_back_hot_journal(db_path)
            old = keep_aside(db_path, now)
        run_guarded_upgrade(reason="start_fresh", db_path=db_path, data_dir=data_dir)
        connections.close_all()
    return old or db_path


def keep_restore_point(db_path: Path, data_dir: Path) -> backups.BackupInfo | None:
    """Back up the current database before it is replaced; a damaged one is copied as it is."""
    if not db_path.exists():
        return None
    try:
        return backups.create_backup(db_path, backups_dir(data_dir), reason="restore_point")
    except (exceptions.BackupError, sqlite3.DatabaseError):
        raw = backups.create_raw_copy(db_path, backups_dir(data_dir), reason="restore_point")
        return raw


def restore_from_backup(
    backup_path: Path,
    db_path: Path,
    data_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    validate: bool = True,
) -> backups.BackupInfo | None:
    """Restore ``backup_path`` over the live database after taking a restore point.

    Return the restore point. The caller runs the guarded upgrade afterwards if
    the backup predates this version's migrations.
    """
    if validate:
        backups.validate_backup(backup_path)
    with writer_lock.held(data_dir):
        diskspace.ensure_space_for_restore(backup_path, db_path)
        restore_point = keep_restore_point(db_path, data_dir)
        connections.close_all()
        backups.restore_backup(backup_path, db_path, progress=progress)
    return restore_point


def restore_while_running(
    backup_path: Path, db_path: Path, data_dir: Path
) -> tuple[backups.BackupInfo | None, list[str]]:
    """Restore a backup under a running till and bring it up to this version's schema.

    Holds the swap gate exclusively: requests in flight finish first (their
    sales land in the restore point) and new ones wait until the restored
    database is upgraded. Return the restore point and the migrations applied.
    """
    from maintenance.db.swap_gate import gate
    from maintenance.db.upgrade import run_guarded_upgrade

    backups.validate_backup(backup_path)
    with gate.exclusive():
        point = restore_from_backup(backup_path, db_path, data_dir, validate=False)
        report = run_guarded_upgrade(reason="after_restore", db_path=db_path, data_dir=data_dir)
    return point, list(report.applied)


@dataclass
class TableRecovery:
    table: str
    original_rows: int | None  # None: the damaged file could not count them
    recovered_rows: int

    @property
    def lost_rows(self) -> int | None:
        if self.original_rows is None:
            return None
        return max(self.original_rows - self.recovered_rows, 0)


@dataclass
class RepairReport:
    method: str  # "sqlite3 .recover" | "table copy"
    ok: bool
    kept_aside: Path | None
    tables: list[TableRecovery] = field(default_factory=list)
    message: str = ""


def _count(conn: sqlite3.Connection, table: str) -> int | None:
    try:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
    except sqlite3.DatabaseError:
        return None


def _recover_with_cli(source: Path, target: Path) -> None:
    dump = subprocess.run(["sqlite3", str(source), ".recover"], capture_output=True, timeout=3600, check=False)
    if dump.returncode != 0 or not dump.stdout:
        # Seen with Debian's sqlite3 3.40: ".recover" stops with "SQL logic error".
        raise exceptions.MaintenanceError("sqlite3 .recover failed: " + dump.stderr.decode(errors="replace").strip())
    load = subprocess.run(["sqlite3", str(target)], input=dump.stdout, capture_output=True, timeout=3600, check=False)
    if load.returncode != 0:
        raise exceptions.MaintenanceError("loading the recovered data failed: " + load.stderr.decode(errors="replace"))


def _recover_by_copy(source: Path, target: Path) -> None:
    """Copy what can be read, table by table and row by row, skipping unreadable rows."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        schema = src.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        for kind, name, sql in schema:
            if kind == "table" and not name.startswith("sqlite_"):
                dst.execute(sql)
        for table in list_tables(src):
            columns = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
            marks = ",".join("?" * len(columns))
            last = -(2**63)
            while True:
                try:
                    rows = src.execute(
                        f'SELECT rowid, * FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 500',  # noqa: S608
                        (last,),
                    ).fetchall()
                except sqlite3.DatabaseError:
                    last += 500  # skip a damaged stretch
                    if last > 2**62:
                        break
                    continue
                if not rows:
                    break
                dst.executemany(f'INSERT INTO "{table}" VALUES ({marks})', [r[1:] for r in rows])  # noqa: S608
                last = rows[-1][0]
        for kind, _name, sql in schema:
            if kind == "index":
                with contextlib.suppress(sqlite3.DatabaseError):
                    dst.execute(sql)
        dst.commit()
    finally:
        src.close()
        dst.close()


def try_repair(db_path: Path, *, now: datetime | None = None) -> RepairReport:
    """Salvage what can be read into a new database; keep the original aside.

    Works on a scratch copy, so the damaged original is never opened for
    writing. The salvaged file replaces the live database only if it passes
    ``integrity_check``.
    """
    connections.close_all()
    use_cli = shutil.which("sqlite3") is not None
    with tempfile.TemporaryDirectory(dir=db_path.parent, prefix=".repair-") as scratch_dir:
        scratch = Path(scratch_dir) / "damaged.db"
        shutil.copyfile(db_path, scratch)
        if wal_path(db_path).exists():
            shutil.copyfile(wal_path(db_path), wal_path(scratch))
        target = Path(scratch_dir) / "repaired.db"
        method = "table copy"
        try:
            if use_cli:
                try:
                    _recover_with_cli(scratch, target)
                    method = "sqlite3 .recover"
                except (exceptions.MaintenanceError, subprocess.SubprocessError):
                    target.unlink(missing_ok=True)
                    _recover_by_copy(scratch, target)
            else:
                _recover_by_copy(scratch, target)
        except (sqlite3.DatabaseError, OSError) as err:
            return RepairReport(method, False, None, message=f"Nothing could be recovered: {err}")
        tables: list[TableRecovery] = []
        with (
            contextlib.closing(sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)) as before,
            contextlib.closing(sqlite3.connect(target)) as after,
        ):
            try:
                names = list_tables(after)
            except sqlite3.DatabaseError:
                names = []
            for name in names:
                tables.append(TableRecovery(name, _count(before, name), _count(after, name) or 0))
        check = check_file(target, full=True, foreign_keys=False)
        if not check.ok or not tables:
            return RepairReport(
                method,
                False,
                None,
                tables,
                message=f"The salvaged database is not usable ({check.summary}); nothing was changed.",
            )
        old = keep_aside(db_path, now)
        os.replace(target, db_path)
        fsync_dir(db_path.parent)
    lost = sum(t.lost_rows or 0 for t in tables)
    return RepairReport(
        method,
        True,
        old,
        tables,
        message=f"Recovered {sum(t.recovered_rows for t in tables)} rows; {lost} rows lost. "
        f"The damaged database is kept as {old.name}.",
    )
