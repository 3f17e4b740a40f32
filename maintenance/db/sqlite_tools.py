"""Low-level SQLite file handling that never writes to a database it inspects."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
CHUNK = 4 * 1024 * 1024


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def shm_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-shm")


def size_with_wal(db_path: Path) -> int:
    """Return the bytes the database occupies: main file plus write-ahead log."""
    total = 0
    for path in (db_path, wal_path(db_path)):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def has_sqlite_header(db_path: Path) -> bool:
    with open(db_path, "rb") as handle:
        return handle.read(16) == SQLITE_HEADER


@contextlib.contextmanager
def open_readonly(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection: inspecting a broken file must never change it.

    A database with a write-ahead log still needs its ``-shm`` file; read-only
    mode reads it, and SQLite does not modify the main file in this mode.
    """
    uri = f"file:{db_path}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Return the hex sha256 of a file, reading it in large chunks."""
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_file(src: Path, dst: Path, *, progress: Callable[[int, int], None] | None = None) -> str:
    """Copy ``src`` to ``dst`` durably and return the sha256 of ``src``.

    The kernel copies (``shutil.copyfile``: sendfile/copy_file_range) while a
    second thread hashes the source; both read the same cached pages and
    hashlib releases the GIL, so the hash costs little extra wall time.
    """
    total = src.stat().st_size
    result: dict[str, object] = {}

    def hash_source() -> None:
        try:
            result["sha"] = sha256_file(src, (lambda done: progress(done, total)) if progress else None)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = err

    hasher = threading.Thread(target=hash_source, name="hash-copy", daemon=True)
    hasher.start()
    try:
        shutil.copyfile(src, dst)
        with open(dst, "rb+") as handle:
            os.fsync(handle.fileno())
    finally:
        hasher.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return str(result["sha"])


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def remove_wal_files(db_path: Path) -> None:
    """Remove a database's ``-wal`` and ``-shm``: stale ones would corrupt a replaced file."""
    for path in (wal_path(db_path), shm_path(db_path)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def list_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    return sorted(r[0] for r in rows)


def logical_dump(db_path: Path) -> str:
    """Return a sha256 over every table's rows, in primary-key order (content, not bytes)."""
    digest = hashlib.sha256()
    with open_readonly(db_path) as conn:
        for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"):
            digest.update(sql.encode())
        for table in list_tables(conn):
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):  # noqa: S608
                digest.update(repr(row).encode())
    return digest.hexdigest()
