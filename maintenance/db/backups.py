"""Verified backups of the live database: create, verify, list, restore, delete, prune.

A backup is ``backups/aurswift-backup-YYYYMMDD-HHMMSS[-N].db`` with a JSON
sidecar of the same name (``.json``) recording its sha256, the app version,
the migrations it contains, its size and why it was made. Files are written
under a temporary name and renamed into place, so a crash never leaves a
half-written file that looks like a backup.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from maintenance import exceptions
from maintenance.config import app_version
from maintenance.db import busy, markers, priority, testhooks
from maintenance.db.classify import MANAGED, classify
from maintenance.db.diskspace import ensure_space_for_backup
from maintenance.db.integrity import MMAP_BYTES, IntegrityResult, check_connection, check_file
from maintenance.db.progress import Progress, ProgressCallback, Step, emit
from maintenance.db.sqlite_tools import (
    copy_file,
    has_sqlite_header,
    journal_path,
    leaving_no_side_files,
    open_readonly,
    pinned_snapshot,
    read_through,
    remove_wal_files,
    sha256_file,
    wal_bytes,
    wal_path,
)
from maintenance.files import fsync_dir, read_json, write_json_atomic

NAME_RE = re.compile(r"^aurswift-backup-\d{8}-\d{6}(-\d+)?\.db$")
REASONS = {
    "before_migration": "Before migration",
    "manual": "Manual",
    "restore_point": "Restore point",
    "before_start_fresh": "Before start fresh",
}
RESTORE_MARKER = markers.RESTORE_MARKER
#: The app labels whose migrations make a database "a database of AurSwift".
OUR_APPS = ("pos",)


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: datetime
    size: int
    sha256: str
    reason: str
    app_version: str
    migrations: list[str] = field(default_factory=list)
    verified: bool | None = None
    # These very bytes (``sha256``) passed ``quick_check``, when made or when last verified. The check is a
    # function of the bytes alone, so a restore whose copy hashes to ``sha256`` need not run it again.
    checked: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def automatic(self) -> bool:
        return self.reason == "before_migration"

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason.replace("_", " ").capitalize())

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["created_at"] = self.created_at.isoformat()
        return data


def sidecar_path(backup_path: Path) -> Path:
    return backup_path.with_suffix(".json")


def _write_sidecar(info: BackupInfo) -> None:
    data = info.as_dict()
    data.pop("path")
    write_json_atomic(sidecar_path(info.path), data)


def read_info(backup_path: Path) -> BackupInfo:
    """Return what the sidecar says about a backup (or what the file itself shows)."""
    try:
        data = json.loads(sidecar_path(backup_path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        stat = backup_path.stat()
        return BackupInfo(
            path=backup_path,
            created_at=datetime.fromtimestamp(stat.st_mtime).astimezone(),
            size=stat.st_size,
            sha256="",
            reason="unknown",
            app_version="unknown",
            verified=None,
        )
    return BackupInfo(
        path=backup_path,
        created_at=datetime.fromisoformat(data["created_at"]),
        size=int(data["size"]),
        sha256=data["sha256"],
        reason=data.get("reason", "unknown"),
        app_version=data.get("app_version", "unknown"),
        migrations=list(data.get("migrations", [])),
        verified=data.get("verified"),
        checked=bool(data.get("checked", False)),
    )


def _unique_path(backups_dir: Path, now: datetime) -> Path:
    """Return a new backup name for ``now``, claimed: its ``.partial`` is created here, exclusively.

    Two backups in the same second (two ``backup_db`` at once, a manager's
    beside a command) get two names, never one file written by both.
    """
    stem = f"aurswift-backup-{now:%Y%m%d-%H%M%S}"
    backups_dir.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        final = backups_dir / (f"{stem}.db" if n == 1 else f"{stem}-{n}.db")
        partial = final.with_name(final.name + ".partial")
        if not final.exists():
            try:
                os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                pass
            else:
                if not final.exists():  # not finished by someone else between the two looks
                    return final
                partial.unlink(missing_ok=True)
        n += 1


@contextlib.contextmanager
def _being_written(partial: Path) -> Iterator[None]:
    """Hold a lock on ``partial`` while it is written, so that no clean-up takes it for a crash's leftover.

    Windows needs none (a file open for writing cannot be deleted there), and
    a handle kept open would stop the final rename.
    """
    if fcntl is None:
        yield
        return
    handle = open(partial, "ab")  # noqa: SIM115 - held for the block
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


def _written_by_someone(partial: Path) -> bool:
    """Return whether a live backup is writing ``partial`` now (see :func:`_being_written`)."""
    if fcntl is None:
        return False  # Windows: a file open for writing cannot be deleted anyway
    try:
        with open(partial, "rb") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
    except FileNotFoundError:
        return False
    return False


def applied_migrations(db_path: Path) -> list[str]:
    """Return ``app.name`` for every migration recorded in a (backup) database file."""
    try:
        with leaving_no_side_files(db_path), open_readonly(db_path) as conn:
            return [f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]
    except sqlite3.DatabaseError:
        return []


def _snapshot(
    db_path: Path, dest: Path, progress: ProgressCallback | None, *, check: bool = False
) -> tuple[str, IntegrityResult | None]:
    """Copy a consistent snapshot of ``db_path`` to ``dest``; return the copy's sha256 and, with ``check``, its check.

    No write lock is held while copying. :func:`pinned_snapshot` checkpoints
    the write-ahead log and opens read transactions whose snapshot is exactly
    the main file (the write lock is taken only for that moment); while they
    last the main file does not change and the till keeps writing into the
    log. The file is then copied chunk by chunk, each chunk hashed as it is
    written, and fsynced (:func:`copy_file`): the sha256 is of the bytes the
    copy holds. With ``check``, ``quick_check`` runs meanwhile in a second
    read transaction on the same snapshot, so it checks exactly the bytes
    being copied, in the time the copy waits for the disk.

    If the log cannot be checkpointed within 2 s (a reader of an old snapshot
    stays), SQLite's online backup API copies instead: always consistent, but
    slower; that copy is hashed and checked after it is written.
    """

    def report(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        emit(progress, Step.BACKUP, f"Backing up the database… {pct:.0f}%", percent=pct)

    with contextlib.ExitStack() as stack:
        try:
            readers = stack.enter_context(pinned_snapshot(db_path, readers=2 if check else 1))
        except sqlite3.OperationalError as err:
            if busy.is_read_only(err):
                raise exceptions.ReadOnlyError(
                    f"The database {db_path} is read-only, so it cannot be backed up safely. Nothing was changed.",
                    detail=str(err),
                ) from err
            if busy.is_busy(err):
                raise exceptions.DatabaseLockedError(
                    "The database is busy in another program, so it cannot be backed up now. Try again shortly.",
                    detail=str(err),
                ) from err
            raise exceptions.BackupError(
                f"The database {db_path} could not be opened for a backup ({err}): check that it is a database "
                "file this user may read, in a folder this user may write to. Nothing was changed.",
                detail=str(err),
            ) from err
        if readers is not None:
            if not check:
                return copy_file(db_path, dest, progress=report), None
            # The check reads through a memory map: no system call and copy per page (the file
            # cannot change while the snapshot is pinned). benchmarks/RESULTS.md has the figures.
            readers[1].execute(f"PRAGMA mmap_size = {MMAP_BYTES}").fetchall()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check-snapshot") as pool:
                checking = pool.submit(check_connection, readers[1], foreign_keys=False)
                try:
                    sha = copy_file(db_path, dest, progress=report)
                except BaseException:
                    readers[1].interrupt()
                    raise
                return sha, checking.result()
    source = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    target = sqlite3.connect(dest)
    try:
        source.backup(target, pages=4096, progress=lambda _s, rem, tot: report(tot - rem, tot))
        # A copy of a WAL database is in WAL mode too: a backup is one self-contained file.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()
    with open(dest, "rb+") as handle:
        os.fsync(handle.fileno())
    sha = sha256_file(dest)
    if not check:
        return sha, None
    with leaving_no_side_files(dest):
        return sha, check_file(dest, foreign_keys=False, mmap=True)


SAVED = "Backup saved:"
"""How the last progress report of a backup begins: from there on the backup is complete."""


def create_backup(
    db_path: Path,
    backups_dir: Path,
    *,
    reason: str,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    full_check: bool = False,
    database_version: str | None = None,
    path: Path | None = None,
) -> BackupInfo:
    """Make a verified backup of ``db_path`` and return its description.

    ``path`` names the backup to write (a restore point whose name its
    restore's marker already records); by default a new name from ``now``.

    ``database_version`` is the version of AurSwift that made the database
    being backed up (before a migration: the previous version, not this one);
    the sidecar records it so a backup says what it holds.

    Verified means: a consistent snapshot, copied and fsynced, and the sha256
    in the sidecar is the hash of the bytes written to the copy (computed as
    they are written, see :func:`copy_file`), so any later change to the file
    shows (``verify_backup``, and the validation before every restore, which
    re-hashes it and runs ``quick_check``). With ``full_check`` the snapshot
    also passes ``quick_check``, run on the very snapshot being copied while
    it is copied; the guarded upgrade runs its own checks beside the copy
    instead (:func:`maintenance.db.upgrade._checked_backup`).

    There is no read-back of the copy: from the page cache it would prove
    nothing, and from the disk it would double the time (benchmarks/RESULTS.md).
    """
    if not db_path.exists():
        raise exceptions.BackupError(f"There is no database to back up at {db_path}.")
    backups_dir.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now().astimezone()
    final = path or _unique_path(backups_dir, now)
    partial = final.with_name(final.name + ".partial")
    try:
        emit(progress, Step.BACKUP, "Backing up the database…", percent=0.0)
        with _being_written(partial):
            testhooks.pause_if("backup_writing")
            info = _write_backup(db_path, partial, final, progress, reason, now, full_check, database_version)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        sidecar_path(final).unlink(missing_ok=True)
        raise exceptions.BackupError(f"The backup could not be written: {err.strerror or err}.") from err
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    emit(progress, Step.BACKUP, f"{SAVED} {final.name}", percent=100.0)
    return info


def _write_backup(
    db_path: Path,
    partial: Path,
    final: Path,
    progress: ProgressCallback | None,
    reason: str,
    now: datetime,
    full_check: bool,
    database_version: str | None,
) -> BackupInfo:
    """Copy the snapshot into ``partial``, describe it, then give it its name ``final``."""
    sha, result = _snapshot(db_path, partial, progress, check=full_check)
    if not has_sqlite_header(partial):
        raise exceptions.BackupVerificationError("The backup copy is not an SQLite database.")
    if result is not None and not result.ok:
        raise exceptions.BackupVerificationError(f"The database failed its check: {result.summary}.")
    # The sidecar first: a backup is listed only once its description exists.
    info = BackupInfo(
        path=final,
        created_at=now,
        size=partial.stat().st_size,
        sha256=sha,
        reason=reason,
        app_version=database_version or app_version(),
        migrations=applied_migrations(partial),
        verified=True,
        checked=result is not None and result.ok,
    )
    _write_sidecar(info)
    os.replace(partial, final)
    fsync_dir(final.parent)
    return info


def create_manual_backup(db_path: Path, backups_dir: Path, *, progress: ProgressCallback | None = None) -> BackupInfo:
    """A manager's "back up now": refused up front, with the sizes, when it cannot fit; the snapshot fully checked.

    It runs while the till sells, so its copy, hash and check run at low
    priority (:mod:`maintenance.db.priority`): the cashier's requests get the
    CPU first, and on an idle machine the backup is no slower.
    """
    if not db_path.exists():
        raise exceptions.BackupError(f"There is no database to back up at {db_path}.")
    ensure_space_for_backup(db_path, backups_dir)
    return create_backup_in_background(db_path, backups_dir, reason="manual", progress=progress, full_check=True)


def create_backup_in_background(
    db_path: Path,
    backups_dir: Path,
    *,
    reason: str,
    progress: ProgressCallback | None = None,
    keep_if_stopped: bool = True,
    **options: Any,
) -> BackupInfo:
    """:func:`create_backup` in a low-priority thread (:func:`priority.in_background`), waited for.

    Work that must not wait for the copy keeps the CPU: the till beside a
    manager's backup, the guarded upgrade's ``quick_check`` beside its backup.
    Ctrl-C in the waiting thread stops the copy at its next step and keeps
    nothing. If the backup was saved all the same, it is kept and returned
    (a manager's backup), or, without ``keep_if_stopped`` (a backup that is
    only a step of a run being stopped), removed and the interruption raised.
    """
    cancelled = threading.Event()

    def report(step: Progress) -> None:
        if cancelled.is_set() and not step.message.startswith(SAVED):  # interrupted: stop, the copy is removed
            raise exceptions.BackupError("The backup was cancelled; no backup was kept.")
        if progress is not None:
            progress(step)

    info = priority.in_background(
        lambda: create_backup(db_path, backups_dir, reason=reason, progress=report, **options),
        name="backup",
        cancel=cancelled.set,
    )
    if cancelled.is_set() and not keep_if_stopped:
        discard(info.path)
        raise KeyboardInterrupt
    return info


def verify_backup(path: Path) -> BackupInfo:
    """Re-check a backup (sha256 against its sidecar, and ``quick_check``, at the same time); record the result."""
    info = read_info(path)
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-backup") as pool:
        hashing = pool.submit(sha256_file, path) if info.sha256 else None
        result = _structure(path, mmap=False, read_first=True)
        if hashing is not None and hashing.result() != info.sha256:
            problems.append("its contents changed since it was made (checksum mismatch)")
    if not result.ok:
        problems.append(result.summary)
    checked = BackupInfo(**{**info.__dict__, "verified": not problems, "checked": not problems})
    if sidecar_path(path).exists() or info.sha256:
        _write_sidecar(checked)
    if problems:
        raise exceptions.BackupVerificationError(f"Backup {path.name} failed verification: " + "; ".join(problems))
    return checked


def record_checked(info: BackupInfo) -> BackupInfo:
    """Note in the sidecar that the backup's bytes passed ``quick_check`` (the upgrade checked the snapshot copied)."""
    checked = BackupInfo(**{**info.__dict__, "checked": True})
    _write_sidecar(checked)
    return checked


def list_backups(backups_dir: Path) -> list[BackupInfo]:
    """Return every backup, newest first."""
    if not backups_dir.exists():
        return []
    found = [read_info(p) for p in backups_dir.iterdir() if NAME_RE.match(p.name)]
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


def resolve_backup(backups_dir: Path, name: str) -> Path:
    """Return the backup file called ``name`` inside ``backups_dir``; never a path elsewhere."""
    if not NAME_RE.match(name or ""):
        raise exceptions.BackupError("That is not the name of a backup.")
    path = backups_dir / name
    if path.resolve().parent != backups_dir.resolve() or not path.is_file():
        raise exceptions.BackupError(f"There is no backup called {name}.")
    return path


def newest_verified(backups: list[BackupInfo]) -> BackupInfo | None:
    return next((b for b in backups if b.verified), None)


def _disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT)


def restore_backup(
    backup_path: Path, db_path: Path, *, progress: ProgressCallback | None = None, reclaim_space: bool = False
) -> None:
    """Replace the live database with ``backup_path`` atomically.

    Order: copy to a temporary file in the database's folder and fsync, while
    a second thread hashes the backup being copied (the copy's bytes are the
    backup's, so a matching hash proves the new file is the recorded backup);
    write the restore marker; drop the stale ``-wal``/``-shm``/``-journal``
    (they would be replayed onto the restored file); rename over the database;
    fsync the folder. A crash after the marker is finished at the next start
    (:func:`finish_interrupted_restore`); before it, the live file is untouched.

    ``reclaim_space`` is for a failed upgrade, whose live file is about to be
    thrown away: if the copy does not fit, its write-ahead log is dropped, then
    the file itself, and as a last resort the backup is moved into place. So
    that restore never needs more free space than the run started with.
    Callers close Django's connections first.
    """
    info = read_info(backup_path)
    marker = db_path.parent / RESTORE_MARKER
    tmp = db_path.with_name(db_path.name + ".restore-tmp")

    def report(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        emit(progress, Step.RESTORE, f"Restoring the backup… {pct:.0f}%", percent=pct)

    try:
        try:
            if wal_bytes(backup_path) and not info.sha256:  # kept aside with its log: both are the database
                sha = _copy_with_log(backup_path, tmp)
            else:
                sha = copy_file(backup_path, tmp, progress=report)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            if not (reclaim_space and _disk_full(err)):
                raise
            _restore_in_little_space(backup_path, db_path, info, marker, tmp, report)
            emit(progress, Step.RESTORE, "Database restored from backup.", percent=100.0)
            return
        if info.sha256 and sha != info.sha256:
            tmp.unlink(missing_ok=True)
            raise exceptions.RestoreFailedError(
                f"The backup {backup_path.name} is damaged (checksum mismatch); the database was not replaced.",
                backup_path=backup_path,
            )
        _swap_in(tmp, db_path, marker, backup_path, info.sha256)
    except (OSError, sqlite3.Error) as err:
        tmp.unlink(missing_ok=True)
        raise exceptions.RestoreFailedError(
            f"Restoring {backup_path.name} failed: {err}. The backup is kept at {backup_path}.",
            backup_path=backup_path,
        ) from err
    emit(progress, Step.RESTORE, "Database restored from backup.", percent=100.0)


def _swap_in(
    tmp: Path,
    db_path: Path,
    marker: Path,
    backup_path: Path,
    sha: str,
    *,
    reclaiming: bool = False,
    marker_written: bool = False,
) -> None:
    # From the marker until its removal, a crash is finished by the next start. When reclaiming
    # space for a failed upgrade, the upgrade's own marker already guarantees that, and a full
    # disk may have no block left for another file.
    if not marker_written:
        try:
            write_json_atomic(marker, {"backup": str(backup_path), "sha256": sha})
        except OSError:
            if not reclaiming:
                raise
    testhooks.pause_if("restore_swapping")
    remove_wal_files(db_path)
    os.replace(tmp, db_path)
    fsync_dir(db_path.parent)
    marker.unlink(missing_ok=True)
    fsync_dir(db_path.parent)


def _restore_in_little_space(
    backup_path: Path, db_path: Path, info: BackupInfo, marker: Path, tmp: Path, report
) -> bool:
    """Restore when a second copy does not fit; return True if the backup itself had to be moved into place.

    The failed run's files are garbage once the backup is proven intact, so
    free them step by step: first its write-ahead log, then the file itself.
    """
    if info.sha256 and sha256_file(backup_path) != info.sha256:
        raise exceptions.RestoreFailedError(
            f"The backup {backup_path.name} is damaged (checksum mismatch); the database was not replaced.",
            backup_path=backup_path,
        )
    remove_wal_files(db_path)
    for drop_live in (False, True):
        if drop_live:
            db_path.unlink(missing_ok=True)
        try:
            copy_file(backup_path, tmp, progress=report)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            if not _disk_full(err):
                raise
            continue
        _swap_in(tmp, db_path, marker, backup_path, info.sha256, reclaiming=True)
        return False
    # Last resort: the verified backup becomes the live database (a rename needs no space).
    os.replace(backup_path, db_path)
    fsync_dir(db_path.parent)
    sidecar_path(backup_path).unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    fsync_dir(db_path.parent)
    return True


def finish_interrupted_restore(db_path: Path) -> Path | None:
    """Finish a restore that a crash interrupted; return the backup used, or None.

    A restore's marker is written before its restore point is kept; if the
    crash came before the restore point was complete (its half-made file is
    gone by now, see :func:`clean_partial_files`), the live file, still the
    database before the restore, is kept as that restore point first.
    """
    marker = db_path.parent / RESTORE_MARKER
    data = read_json(marker)
    if data is None:
        marker.unlink(missing_ok=True)
        return None
    backup = Path(data["backup"])
    if not backup.exists():
        # It was moved into place (disk full) before the crash: the live file is the backup.
        marker.unlink(missing_ok=True)
        return backup
    point = data.get("restore_point")
    if point and not Path(point).exists() and db_path.exists():
        keep_live_as_restore_point(db_path, Path(point))
    restore_backup(backup, db_path, reclaim_space=True)
    return backup


# --- Validating a backup and restoring it with a restore point ----------------
def _refusal(path: Path):
    def refuse(why: str) -> exceptions.BackupInvalidError:
        return exceptions.BackupInvalidError(f"{path.name} cannot be restored: {why}. Nothing was changed.")

    return refuse


def _sound_file(path: Path, refuse) -> BackupInfo:
    if not path.is_file():
        raise refuse("there is no such file")
    if path.stat().st_size == 0 or not has_sqlite_header(path):
        raise refuse("it is not an SQLite database")
    sidecar = sidecar_path(path)
    if sidecar.exists():
        data = read_json(sidecar)
        if not isinstance(data, dict) or not isinstance(data.get("sha256"), str) or not data["sha256"]:
            raise refuse(f"its description {sidecar.name} is damaged, so its checksum cannot be compared")
    journal = journal_path(path)
    if journal.exists() and journal.stat().st_size:
        raise refuse(f"it was being changed when its program stopped ({journal.name} lies beside it)")
    if wal_bytes(path) and sidecar.exists():
        raise refuse(f"it was opened and changed after it was saved ({wal_path(path).name} lies beside it)")
    return read_info(path)


def _copy_with_log(backup_path: Path, tmp: Path) -> str:
    """Copy a database whose ``-wal`` beside it holds part of it, the log folded in; return the copy's sha256.

    A file kept aside with its log (``pos_system.db.old.<time>``) is the main
    file *and* the log: its validation reads both, so the copy must hold both.
    SQLite's online backup reads them as one database; the original and its
    log stay as they are.
    """
    tmp.unlink(missing_ok=True)
    with (
        leaving_no_side_files(backup_path),
        open_readonly(backup_path) as source,
        contextlib.closing(sqlite3.connect(tmp, isolation_level=None)) as target,
    ):
        source.backup(target)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    return sha256_file(tmp)


def _recorded_sha(path: Path, info: BackupInfo) -> str:
    """Return the sha256 the backup's sidecar records ("" for a file without a sidecar)."""
    return info.sha256 if info.sha256 and sidecar_path(path).exists() else ""


def _check_kind(path: Path, refuse) -> None:
    """Refuse what is not a database of AurSwift, or one made by a newer version (reads the schema only)."""
    try:
        with leaving_no_side_files(path):
            result = classify(path)
    except exceptions.MaintenanceError as err:
        raise refuse(f"it is damaged ({err.message})") from err
    if result.kind != MANAGED or not any(app in OUR_APPS for app, _ in result.applied):
        raise refuse("it is not a database of AurSwift")
    if result.unknown:
        raise refuse("it was made by a newer version of AurSwift; install that version first")


def _structure(path: Path, *, mmap: bool, read_first: bool = False) -> IntegrityResult:
    """``quick_check`` a closed file; ``read_first``: read it through once first (:func:`read_through`)."""
    if read_first:
        read_through(path)
    with leaving_no_side_files(path):
        return check_file(path, foreign_keys=False, mmap=mmap)


def _same_disk(path: Path, other: Path) -> bool:
    """Return whether two files live on one file system (a backup there may be read through a memory map).

    A memory map turns a read error into a signal that kills the process, so
    a file on a stick that may be pulled out is read the ordinary way.
    """
    try:
        return path.stat().st_dev == other.parent.stat().st_dev
    except OSError:
        return False


def validate_backup(path: Path, *, mmap: bool = False) -> BackupInfo:
    """Refuse anything that is not a sound backup of this app's database; return its description.

    Checked before a restore changes anything: an SQLite file, with this app's
    ``django_migrations``, not ahead of this version, its sha256 equal to its
    sidecar's (where there is one), and a clean ``quick_check`` — run here
    unless the sidecar records that these bytes passed it (``checked``; the
    hash proves they are the same bytes). The hash and the check run at the
    same time (hashlib and SQLite release the GIL).
    ``mmap``: read the file through a memory map (only for a file on the
    database's own disk, see :func:`_same_disk`).
    """
    refuse = _refusal(path)
    info = _sound_file(path, refuse)
    recorded = _recorded_sha(path, info)
    already_checked = bool(recorded) and info.checked  # proven by the hash below: the same bytes passed
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-backup") as pool:
        hashing = pool.submit(sha256_file, path) if recorded else None
        try:
            _check_kind(path, refuse)
            check = None if already_checked else _structure(path, mmap=mmap, read_first=True)
        finally:
            actual = hashing.result() if hashing is not None else recorded
    if actual != recorded:
        raise refuse("its contents changed since it was made (checksum mismatch)")
    if check is not None and not check.ok:
        raise refuse(f"it is damaged ({check.summary})")
    return info


@dataclass
class StagedRestore:
    """A backup copied beside the live database and proven to be that backup, ready to be swapped in."""

    backup_path: Path
    tmp: Path
    info: BackupInfo
    sha256: str

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def restore_tmp_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".restore-tmp")


def stage_restore(
    backup_path: Path, db_path: Path, *, validate: bool = True, progress: ProgressCallback | None = None
) -> StagedRestore:
    """Copy a backup into ``<database>.restore-tmp``, validating it meanwhile; nothing else changes.

    With ``validate``: first the cheap refusals (not an SQLite file, not a
    database of AurSwift, made by a newer version); then the copy, which
    hashes the bytes it writes (:func:`copy_file`), while ``quick_check`` runs
    on the backup in a second thread (after one sequential read of it,
    :func:`read_through`: the copy reads the same bytes at the same time). The copy's hash must equal the
    sidecar's: that is the sidecar check of the validation, and it proves the
    staged file is the backup, so the check of the backup is the check of the
    copy. A file without a sidecar has nothing to prove that, so its staged
    copy is checked after the copy. A backup whose sidecar says its bytes
    passed ``quick_check`` (``checked``) is not checked again: the copy's hash
    equal to the sidecar's proves these are the bytes that passed. Without
    ``validate`` (the caller validated the backup), the copy's hash is still
    compared with the sidecar's.

    Any refusal or error removes the copy. A crash leaves only the copy,
    which the next start removes.
    """
    refuse = _refusal(backup_path)
    with contextlib.suppress(OSError):
        if db_path.exists() and os.path.samefile(backup_path, db_path):
            raise refuse("it is the shop's database itself, not a backup of it")
    if validate:
        info = _sound_file(backup_path, refuse)
        _check_kind(backup_path, refuse)
    else:
        info = read_info(backup_path)
    recorded = _recorded_sha(backup_path, info)
    tmp = restore_tmp_path(db_path)
    mmap = _same_disk(backup_path, db_path)

    def report(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        emit(progress, Step.RESTORE, f"Restoring the backup… {pct:.0f}%", percent=pct)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check-backup") as pool:
            checking = (
                pool.submit(_structure, backup_path, mmap=mmap, read_first=True)
                if validate and recorded and not info.checked
                else None
            )
            if wal_bytes(backup_path) and not recorded:  # a file kept aside with its log: both are the database
                sha = _copy_with_log(backup_path, tmp)
            else:
                sha = copy_file(backup_path, tmp, progress=report)
            check = checking.result() if checking is not None else None
        if recorded and sha != recorded:
            why = "its contents changed since it was made (checksum mismatch)"
            if validate:
                raise refuse(why)
            raise exceptions.RestoreFailedError(
                f"The backup {backup_path.name} is damaged (checksum mismatch); the database was not replaced.",
                backup_path=backup_path,
            )
        if validate and check is None and not (recorded and info.checked):
            check = _structure(tmp, mmap=True, read_first=True)
        if check is not None and not check.ok:
            raise refuse(f"it is damaged ({check.summary})")
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise exceptions.BackupError(
            f"The backup {backup_path.name} could not be copied beside the database "
            f"({err.strerror or err}). Nothing was changed."
        ) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    testhooks.pause_if("restore_staged")
    return StagedRestore(backup_path, tmp, info, sha)


def seal_live(db_path: Path) -> list[str] | None:
    """Checkpoint the live database so its main file holds all of it; return its applied migrations.

    Return None when that cannot be done (a reader still holds an old
    snapshot, a damaged file): the restore point is then copied instead.
    The caller holds the maintenance lock, so nothing writes afterwards.
    """
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(db_path, timeout=2, isolation_level=None)
        try:
            wal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            if wal and tuple(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()) != (0, 0, 0):
                return None
            try:
                rows = conn.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()
            except sqlite3.OperationalError:
                rows = []
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    journal = journal_path(db_path)
    if wal_bytes(db_path) or (journal.exists() and journal.stat().st_size):
        return None
    return [f"{app}.{name}" for app, name in rows]


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _main_file_is_whole(db_path: Path) -> bool:
    """Return whether the main file alone is the database now (no log or journal holding anything)."""
    journal = journal_path(db_path)
    return db_path.is_file() and not wal_bytes(db_path) and not (journal.exists() and journal.stat().st_size)


def keep_live_as_restore_point(
    db_path: Path,
    final: Path,
    *,
    known_sha: tuple[str, tuple[int, int, int] | None] | None = None,
    now: datetime | None = None,
) -> BackupInfo | None:
    """Keep the live database as the restore point ``final``; return its description.

    The live file, sealed (:func:`seal_live`), becomes the restore point by a
    hard link: no byte is copied, and when the restored file is renamed over
    the database the old one lives on as the restore point (nothing is freed
    while requests wait). Where a hard link cannot be made (the backups folder
    on another file system, a file system without them), or the file cannot
    be sealed, a consistent copy is made instead, as any backup; a file
    SQLite cannot read is copied byte for byte, unverified. Written as any
    backup: a ``.partial`` name, the sidecar, then the rename.

    ``known_sha``: the file's sha256 and its state (inode, size, mtime) when
    it was hashed; used if sealing left the file in that state, otherwise the
    kept file is hashed.
    """
    if not db_path.exists():
        return None
    final.parent.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now().astimezone()
    migrations = seal_live(db_path)
    if migrations is not None:
        sha256 = known_sha[0] if known_sha is not None and _file_state(db_path) == known_sha[1] else None
        info = _link_restore_point(db_path, final, sha256, migrations, now)
        if info is not None:
            return info
    try:
        return create_backup(db_path, final.parent, reason="restore_point", now=now, path=final)
    except (exceptions.BackupError, sqlite3.DatabaseError):
        return create_raw_copy(db_path, final.parent, reason="restore_point", path=final)


def _link_restore_point(
    db_path: Path, final: Path, sha256: str | None, migrations: list[str], now: datetime
) -> BackupInfo | None:
    # Linked under a name of its own: the claimed ``.partial`` (see :func:`_unique_path`) stays ours until the end.
    linked = final.with_name(final.name + ".partial-link")
    linked.unlink(missing_ok=True)
    try:
        os.link(db_path, linked)
    except OSError:
        return None  # another file system (EXDEV) or one without hard links: the caller copies
    try:
        testhooks.pause_if("restore_point_linked")
        info = BackupInfo(
            path=final,
            created_at=now,
            size=linked.stat().st_size,
            sha256=sha256 or sha256_file(linked),
            reason="restore_point",
            app_version=app_version(),
            migrations=migrations,
            verified=True,
        )
        _write_sidecar(info)
        os.replace(linked, final)
        fsync_dir(final.parent)
    except BaseException:
        linked.unlink(missing_ok=True)
        sidecar_path(final).unlink(missing_ok=True)
        raise
    final.with_name(final.name + ".partial").unlink(missing_ok=True)
    return info


def restore_with_restore_point(
    backup_path: Path,
    db_path: Path,
    backups_dir: Path,
    *,
    validate: bool = True,
    staged: StagedRestore | None = None,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> BackupInfo | None:
    """Replace the live database with a backup, keeping the live one as a restore point; return it.

    The caller holds the maintenance lock (and, in the running app, the swap
    gate) and has closed its connections. In order:

    1. :func:`stage_restore` (unless ``staged`` is given): the backup is
       validated while it is copied beside the database; meanwhile, if the
       main file alone holds the live database, it is hashed for the restore
       point's sidecar. A refusal here has changed nothing.
    2. The restore marker is written, naming the backup and the restore
       point to come: from here on a crash is finished by the next start
       (:func:`finish_interrupted_restore`), restore point first.
    3. The restore point is kept (:func:`keep_live_as_restore_point`: the
       live file sealed and hard-linked, re-hashed only if sealing changed
       it; or a copy).
    4. The staged copy is renamed over the database (stale ``-wal``/``-shm``
       dropped first), and the marker removed.

    If step 2–4 fails before the rename, the marker is removed and a restore
    point that is still the live file (a hard link) is dropped, so it cannot
    change with it: the live database is as it was.
    """
    now = now or datetime.now().astimezone()
    live_state = _file_state(db_path) if _main_file_is_whole(db_path) else None
    live_sha: str | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-live") as pool:
        hashing = pool.submit(sha256_file, db_path) if live_state is not None else None
        try:
            if staged is None:
                staged = stage_restore(backup_path, db_path, validate=validate, progress=progress)
        finally:
            if hashing is not None:
                with contextlib.suppress(OSError):
                    live_sha = hashing.result()
    marker = db_path.parent / RESTORE_MARKER
    point: BackupInfo | None = None
    point_path: Path | None = None
    try:
        point_path = _unique_path(backups_dir, now) if db_path.exists() else None
        write_json_atomic(
            marker,
            {
                "backup": str(backup_path),
                "sha256": staged.sha256,
                "restore_point": str(point_path) if point_path else None,
            },
        )
        testhooks.pause_if("restore_point_keeping")
        if point_path is not None:
            known = (live_sha, live_state) if live_sha else None
            point = keep_live_as_restore_point(db_path, point_path, known_sha=known, now=now)
        _swap_in(staged.tmp, db_path, marker, backup_path, staged.sha256, marker_written=True)
    except BaseException as err:
        if staged.tmp.exists():  # not swapped in: the live database stays, as it was
            with contextlib.suppress(OSError):
                if point is not None and os.path.samefile(point.path, db_path):
                    discard(point.path)  # a hard link of the live file would change with it
            marker.unlink(missing_ok=True)
            staged.discard()
            if point_path is not None and point is None:  # its name was claimed, nothing was made
                point_path.with_name(point_path.name + ".partial").unlink(missing_ok=True)
            if isinstance(err, (OSError, sqlite3.Error)):
                raise exceptions.BackupError(
                    f"Restoring {backup_path.name} failed before the database was replaced ({err}). "
                    "Nothing was changed."
                ) from err
        raise
    emit(progress, Step.RESTORE, "Database restored from backup.", percent=100.0)
    return point


def delete_backup(path: Path, backups_dir: Path) -> None:
    """Delete a backup and its sidecar; refuse the newest verified backup."""
    path = resolve_backup(backups_dir, path.name)
    newest = newest_verified(list_backups(backups_dir))
    if newest is not None and newest.path == path:
        raise exceptions.BackupError(
            f"{path.name} is the newest verified backup and is kept so there is always one to go back to."
        )
    path.unlink()
    with contextlib.suppress(FileNotFoundError):
        sidecar_path(path).unlink()


def prune_backups(backups_dir: Path, keep: int, protect: Path | None = None) -> list[Path]:
    """Delete automatic backups beyond the newest ``keep``; return what was deleted.

    Never deleted: manual backups and restore points, the newest verified
    backup, and ``protect`` (the backup a run just made).
    """
    backups = list_backups(backups_dir)
    newest = newest_verified(backups)
    automatic = [b for b in backups if b.automatic]
    removed: list[Path] = []
    for info in automatic[max(keep, 0) :]:
        if (protect is not None and info.path == protect) or (newest is not None and info.path == newest.path):
            continue
        info.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            sidecar_path(info.path).unlink()
        removed.append(info.path)
    return removed


def clean_partial_files(backups_dir: Path) -> None:
    """Remove half-written backups (and their SQLite side files) left by a crash.

    Never a finished backup, nor one being written now (``backup_db`` may run
    beside an upgrade): its ``.partial`` is locked while it is written.
    """
    if backups_dir.exists():
        for path in backups_dir.glob("*.partial*"):
            base = path.with_name(path.name[: path.name.index(".partial") + len(".partial")])
            if not _written_by_someone(base):
                with contextlib.suppress(OSError):
                    path.unlink()


def create_raw_copy(db_path: Path, backups_dir: Path, *, reason: str, path: Path | None = None) -> BackupInfo:
    """Copy a database that SQLite cannot snapshot (damaged) byte for byte, marked unverified."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now().astimezone()
    final = path or _unique_path(backups_dir, now)
    partial = final.with_name(final.name + ".partial")
    try:
        sha = copy_file(db_path, partial)
    except BaseException:  # a full disk, Ctrl-C: no partial copy is left behind
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    fsync_dir(backups_dir)
    info = BackupInfo(
        path=final,
        created_at=now,
        size=final.stat().st_size,
        sha256=sha,
        reason=reason,
        app_version=app_version(),
        migrations=[],
        verified=False,
    )
    _write_sidecar(info)
    return info


def discard(backup_path: Path) -> None:
    """Remove a backup that must not be kept (made from a database that failed its check)."""
    backup_path.unlink(missing_ok=True)
    sidecar_path(backup_path).unlink(missing_ok=True)
