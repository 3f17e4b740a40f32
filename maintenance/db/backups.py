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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from maintenance import exceptions
from maintenance.config import app_version
from maintenance.db import testhooks
from maintenance.db.classify import MANAGED, classify
from maintenance.db.diskspace import ensure_space_for_backup
from maintenance.db.integrity import IntegrityResult, check_connection, check_file
from maintenance.db.progress import ProgressCallback, Step, emit
from maintenance.db.sqlite_tools import (
    copy_file,
    has_sqlite_header,
    leaving_no_side_files,
    open_readonly,
    pinned_snapshot,
    remove_wal_files,
    sha256_file,
)
from maintenance.files import fsync_dir, read_json, write_json_atomic

NAME_RE = re.compile(r"^aurswift-backup-\d{8}-\d{6}(-\d+)?\.db$")
REASONS = {
    "before_migration": "Before migration",
    "manual": "Manual",
    "restore_point": "Restore point",
    "before_start_fresh": "Before start fresh",
}
RESTORE_MARKER = "restore-in-progress.json"
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
    )


def _unique_path(backups_dir: Path, now: datetime) -> Path:
    stem = f"aurswift-backup-{now:%Y%m%d-%H%M%S}"
    candidate, n = backups_dir / f"{stem}.db", 1
    while candidate.exists() or candidate.with_name(candidate.name + ".partial").exists():
        n += 1
        candidate = backups_dir / f"{stem}-{n}.db"
    return candidate


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
            if "readonly" in str(err) or "read-only" in str(err):
                raise exceptions.ReadOnlyError(
                    f"The database {db_path} is read-only, so it cannot be backed up safely. Nothing was changed.",
                    detail=str(err),
                ) from err
            raise exceptions.DatabaseLockedError(
                "The database is busy in another program, so it cannot be backed up now. Try again shortly.",
                detail=str(err),
            ) from err
        if readers is not None:
            if not check:
                return copy_file(db_path, dest, progress=report), None
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
        return sha, check_file(dest, foreign_keys=False)


def create_backup(
    db_path: Path,
    backups_dir: Path,
    *,
    reason: str,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    full_check: bool = False,
    database_version: str | None = None,
) -> BackupInfo:
    """Make a verified backup of ``db_path`` and return its description.

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
    final = _unique_path(backups_dir, now)
    partial = final.with_name(final.name + ".partial")
    emit(progress, Step.BACKUP, "Backing up the database…", percent=0.0)
    try:
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
        )
        _write_sidecar(info)
        os.replace(partial, final)
        fsync_dir(backups_dir)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        sidecar_path(final).unlink(missing_ok=True)
        raise exceptions.BackupError(f"The backup could not be written: {err.strerror or err}.") from err
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    emit(progress, Step.BACKUP, f"Backup saved: {final.name}", percent=100.0)
    return info


def create_manual_backup(db_path: Path, backups_dir: Path, *, progress: ProgressCallback | None = None) -> BackupInfo:
    """A manager's "back up now": refused up front, with the sizes, when it cannot fit; the snapshot fully checked."""
    if not db_path.exists():
        raise exceptions.BackupError(f"There is no database to back up at {db_path}.")
    ensure_space_for_backup(db_path, backups_dir)
    return create_backup(db_path, backups_dir, reason="manual", progress=progress, full_check=True)


def verify_backup(path: Path) -> BackupInfo:
    """Re-check a backup (sha256 against its sidecar, and ``quick_check``); record the result."""
    info = read_info(path)
    problems: list[str] = []
    if info.sha256 and sha256_file(path) != info.sha256:
        problems.append("its contents changed since it was made (checksum mismatch)")
    with leaving_no_side_files(path):
        result = check_file(path, foreign_keys=False)
    if not result.ok:
        problems.append(result.summary)
    checked = BackupInfo(**{**info.__dict__, "verified": not problems})
    if sidecar_path(path).exists() or info.sha256:
        _write_sidecar(checked)
    if problems:
        raise exceptions.BackupVerificationError(f"Backup {path.name} failed verification: " + "; ".join(problems))
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


def _swap_in(tmp: Path, db_path: Path, marker: Path, backup_path: Path, sha: str, *, reclaiming: bool = False) -> None:
    # From the marker until its removal, a crash is finished by the next start. When reclaiming
    # space for a failed upgrade, the upgrade's own marker already guarantees that, and a full
    # disk may have no block left for another file.
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
    """Finish a restore that a crash interrupted; return the backup used, or None."""
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
    restore_backup(backup, db_path, reclaim_space=True)
    return backup


def validate_backup(path: Path) -> BackupInfo:
    """Refuse anything that is not a sound backup of this app's database; return its description.

    Checked before a restore changes anything: an SQLite file, with this app's
    ``django_migrations``, not ahead of this version, its sha256 equal to its
    sidecar's (where there is one), and a clean ``quick_check``.
    """

    def refuse(why: str) -> exceptions.BackupInvalidError:
        return exceptions.BackupInvalidError(f"{path.name} cannot be restored: {why}. Nothing was changed.")

    if not path.is_file():
        raise refuse("there is no such file")
    if path.stat().st_size == 0 or not has_sqlite_header(path):
        raise refuse("it is not an SQLite database")
    info = read_info(path)
    if sidecar_path(path).exists() and info.sha256 and sha256_file(path) != info.sha256:
        raise refuse("its contents changed since it was made (checksum mismatch)")
    with leaving_no_side_files(path):
        return _validate_contents(path, info, refuse)


def _validate_contents(path: Path, info: BackupInfo, refuse) -> BackupInfo:
    try:
        result = classify(path)
    except exceptions.MaintenanceError as err:
        raise refuse(f"it is damaged ({err.message})") from err
    if result.kind != MANAGED or not any(app in OUR_APPS for app, _ in result.applied):
        raise refuse("it is not a database of AurSwift")
    if result.unknown:
        raise refuse("it was made by a newer version of AurSwift; install that version first")
    check = check_file(path, foreign_keys=False)
    if not check.ok:
        raise refuse(f"it is damaged ({check.summary})")
    return info


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
    """Remove half-written backups (and their SQLite side files) left by a crash; never a finished backup."""
    if backups_dir.exists():
        for path in backups_dir.glob("*.partial*"):
            path.unlink(missing_ok=True)


def create_raw_copy(db_path: Path, backups_dir: Path, *, reason: str) -> BackupInfo:
    """Copy a database that SQLite cannot snapshot (damaged) byte for byte, marked unverified."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now().astimezone()
    final = _unique_path(backups_dir, now)
    partial = final.with_name(final.name + ".partial")
    sha = copy_file(db_path, partial)
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
