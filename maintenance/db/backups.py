"""Verified backups of the live database: create, verify, list, restore, delete, prune.

A backup is ``backups/aurswift-backup-YYYYMMDD-HHMMSS[-N].db`` with a JSON
sidecar of the same name (``.json``) recording its sha256, the app version,
the migrations it contains, its size and why it was made. Files are written
under a temporary name and renamed into place, so a crash never leaves a
half-written file that looks like a backup.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from aurswift import __version__
from maintenance import exceptions
from maintenance.db.diskspace import ensure_space_for_backup
from maintenance.db.progress import ProgressCallback, emit
from maintenance.db.sqlite_tools import (
    copy_file,
    fsync_dir,
    has_sqlite_header,
    open_readonly,
    remove_wal_files,
    sha256_file,
    wal_path,
    write_json_atomic,
)

NAME_RE = re.compile(r"^aurswift-backup-\d{8}-\d{6}(-\d+)?\.db$")
REASONS = {
    "before_migration": "Before migration",
    "manual": "Manual",
    "restore_point": "Restore point",
    "before_start_fresh": "Before start fresh",
}
RESTORE_MARKER = "restore-in-progress.json"


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
    """Return ``app.name`` for every migration recorded in a database file."""
    try:
        with open_readonly(db_path) as conn:
            return [f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]
    except sqlite3.DatabaseError:
        return []


def _snapshot(db_path: Path, dest: Path, progress: ProgressCallback | None) -> str:
    """Copy a consistent snapshot of ``db_path`` to ``dest``; return its sha256.

    Checkpoint the write-ahead log into the main file, then hold the write lock
    (``BEGIN IMMEDIATE``) while copying the main file: no writer can change it
    meanwhile, and readers (the till) carry on. If readers kept the checkpoint
    from finishing, fall back to SQLite's online backup API, which is always
    consistent but slower.
    """

    def report(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        emit(progress, "backup", f"Backing up the database… {pct:.0f}%", percent=pct)

    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        try:
            # TRUNCATE waits for readers through the busy handler: wait briefly, not 30 s;
            # if readers stay, the online backup below copies consistently anyway.
            conn.execute("PRAGMA busy_timeout = 2000")
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise exceptions.DatabaseLockedError(
                "The database is busy in another program, so it cannot be backed up now. Try again shortly.",
                detail=str(err),
            ) from err
        try:
            wal = wal_path(db_path)
            if busy == 0 and (not wal.exists() or wal.stat().st_size == 0):
                return copy_file(db_path, dest, progress=report)
        finally:
            conn.execute("ROLLBACK")
        target = sqlite3.connect(dest)
        try:
            conn.backup(target, pages=4096, progress=lambda _s, rem, tot: report(tot - rem, tot))
        finally:
            target.close()
        return sha256_file(dest)
    finally:
        conn.close()


def create_backup(
    db_path: Path,
    backups_dir: Path,
    *,
    reason: str,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    full_check: bool = False,
) -> BackupInfo:
    """Make a verified backup of ``db_path`` and return its description.

    Verification: the copy is read back from disk and its sha256 must equal
    the hash of the bytes read from the live database. The guarded upgrade
    has just run ``quick_check`` on the live file, so equal bytes mean an
    intact copy; other callers (manual backups) pass ``full_check=True`` to
    also run ``quick_check`` on the copy itself.
    """
    if not db_path.exists():
        raise exceptions.BackupError(f"There is no database to back up at {db_path}.")
    backups_dir.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now().astimezone()
    final = _unique_path(backups_dir, now)
    partial = final.with_name(final.name + ".partial")
    emit(progress, "backup", "Backing up the database…", percent=0.0)
    try:
        source_sha = _snapshot(db_path, partial, progress)
        if not has_sqlite_header(partial) or sha256_file(partial) != source_sha:
            raise exceptions.BackupVerificationError("The backup copy does not match the database it was made from.")
        if full_check:
            from maintenance.db.integrity import check_file

            result = check_file(partial, foreign_keys=False)
            if not result.ok:
                raise exceptions.BackupVerificationError(f"The backup copy failed its check: {result.summary}.")
        # The sidecar first: a backup is listed only once its description exists.
        info = BackupInfo(
            path=final,
            created_at=now,
            size=partial.stat().st_size,
            sha256=source_sha,
            reason=reason,
            app_version=__version__,
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
    emit(progress, "backup", f"Backup saved: {final.name}", percent=100.0)
    return info


def create_manual_backup(db_path: Path, backups_dir: Path, *, progress: ProgressCallback | None = None) -> BackupInfo:
    """A manager's "back up now": refused up front, with the sizes, when it cannot fit; the copy fully checked."""
    if not db_path.exists():
        raise exceptions.BackupError(f"There is no database to back up at {db_path}.")
    ensure_space_for_backup(db_path, backups_dir)
    return create_backup(db_path, backups_dir, reason="manual", progress=progress, full_check=True)


def verify_backup(path: Path) -> BackupInfo:
    """Re-check a backup (sha256 against its sidecar, and ``quick_check``); record the result."""
    from maintenance.db.integrity import check_file

    info = read_info(path)
    problems: list[str] = []
    if info.sha256 and sha256_file(path) != info.sha256:
        problems.append("its contents changed since it was made (checksum mismatch)")
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


def restore_backup(backup_path: Path, db_path: Path, *, progress: ProgressCallback | None = None) -> None:
    """Replace the live database with ``backup_path`` atomically.

    A marker file records the restore before the live file changes, so a restore
    interrupted by a crash is finished at the next start
    (:func:`finish_interrupted_restore`). Order: copy to a temporary file in the
    database's folder and fsync, while a second thread hashes the backup being
    copied (the copy's bytes are the backup's, so a matching hash proves the new
    file is the recorded backup); then drop the stale ``-wal``/``-shm``
    (they would be replayed onto the restored file), rename over the database,
    fsync the folder. Callers close Django's connections first.
    """
    info = read_info(backup_path)
    marker = db_path.parent / RESTORE_MARKER
    tmp = db_path.with_name(db_path.name + ".restore-tmp")

    def report(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        emit(progress, "restore", f"Restoring the backup… {pct:.0f}%", percent=pct)

    try:
        sha = copy_file(backup_path, tmp, progress=report)
        if info.sha256 and sha != info.sha256:
            tmp.unlink()
            raise exceptions.RestoreFailedError(
                f"The backup {backup_path.name} is damaged (checksum mismatch); the database was not replaced.",
                backup_path=backup_path,
            )
        # From here until the rename, a crash leaves the marker: the next start finishes the job.
        write_json_atomic(marker, {"backup": str(backup_path), "sha256": info.sha256})
        remove_wal_files(db_path)
        os.replace(tmp, db_path)
        fsync_dir(db_path.parent)
        marker.unlink()
        fsync_dir(db_path.parent)
    except (OSError, sqlite3.Error) as err:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise exceptions.RestoreFailedError(
            f"Restoring {backup_path.name} failed: {err}. The backup is kept at {backup_path}.",
            backup_path=backup_path,
        ) from err
    emit(progress, "restore", "Database restored from backup.", percent=100.0)


def finish_interrupted_restore(db_path: Path) -> Path | None:
    """Finish a restore that a crash interrupted; return the backup used, or None."""
    marker = db_path.parent / RESTORE_MARKER
    if not marker.exists():
        return None
    backup = Path(json.loads(marker.read_text(encoding="utf-8"))["backup"])
    restore_backup(backup, db_path)
    return backup


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
    """Remove half-written backups left by a crash (never a finished backup)."""
    if backups_dir.exists():
        for path in backups_dir.glob("*.partial"):
            path.unlink()


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
        app_version=__version__,
        migrations=[],
        verified=False,
    )
    _write_sidecar(info)
    return info


def discard(backup_path: Path) -> None:
    """Remove a backup that must not be kept (made from a database that failed its check)."""
    backup_path.unlink(missing_ok=True)
    sidecar_path(backup_path).unlink(missing_ok=True)
