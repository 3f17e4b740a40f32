"""Low-level SQLite file handling that never writes to a database it inspects."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from maintenance.files import fsync_dir, write_json_atomic  # noqa: F401 - re-exported until every caller imports maintenance.files

SQLITE_HEADER = b"SQLite format 3\x00"
CHUNK = 4 * 1024 * 1024


#: Files SQLite keeps beside a database; they belong to it and move with it.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def shm_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-shm")


def journal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-journal")


def side_files(db_path: Path) -> list[Path]:
    """Return the database's ``-wal``, ``-shm`` and ``-journal`` paths (existing or not)."""
    return [db_path.with_name(db_path.name + suffix) for suffix in SIDE_SUFFIXES]


def wal_bytes(db_path: Path) -> int:
    """Return the bytes the write-ahead log really holds on disk.

    A log without a valid header is discarded by SQLite on open, and a sparse
    file's apparent size is not disk space: neither may inflate the disk rule.
    """
    wal = wal_path(db_path)
    try:
        stat = wal.stat()
        with open(wal, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        return 0
    if stat.st_size == 0 or magic not in WAL_MAGIC:
        return 0
    allocated = getattr(stat, "st_blocks", 0) * 512
    return min(stat.st_size, allocated) if allocated else stat.st_size


def size_with_wal(db_path: Path) -> int:
    """Return the bytes the database occupies: main file plus write-ahead log."""
    try:
        main = db_path.stat().st_size
    except FileNotFoundError:
        main = 0
    return main + wal_bytes(db_path)


def readonly_uri(db_path: Path) -> str:
    """Return a read-only SQLite URI for ``db_path``, percent-encoded.

    Never paste a path into a URI: ``#``, ``?`` and ``%`` are legal in folder
    names (Windows user names too) and would open another file.
    """
    return Path(os.path.abspath(db_path)).as_uri() + "?mode=ro"


def has_sqlite_header(db_path: Path) -> bool:
    with open(db_path, "rb") as handle:
        return handle.read(16) == SQLITE_HEADER


@contextlib.contextmanager
def open_readonly(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection: inspecting a broken file must never change it.

    A database with a write-ahead log still needs its ``-shm`` file; read-only
    mode reads it, and SQLite does not modify the main file in this mode.
    """
    conn = sqlite3.connect(readonly_uri(db_path), uri=True, timeout=10, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as err:
        if "unable to open" not in str(err) or os.access(Path(db_path).parent, os.W_OK):
            raise
        # A WAL database on a read-only disk cannot create its -shm: nothing can change the file
        # there, so reading it as immutable is exact (and it is not damaged, as the error suggests).
        conn.close()
        conn = sqlite3.connect(readonly_uri(db_path) + "&immutable=1", uri=True, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def leaving_no_side_files(db_path: Path) -> Iterator[None]:
    """Remove the ``-wal``/``-shm`` a read-only open of a closed file (a backup) creates beside it.

    A copy of a WAL-mode database is in WAL mode too, and reading it makes
    SQLite create empty side files it cannot delete read-only. Only for files
    no other process uses: never the live database.
    """
    existed = {p for p in side_files(db_path) if p.exists()}
    try:
        yield
    finally:
        for path in side_files(db_path):
            if path not in existed:
                with contextlib.suppress(OSError):
                    if path.name.endswith("-shm") or path.stat().st_size == 0:
                        path.unlink()


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


def remove_wal_files(db_path: Path) -> None:
    """Remove a database's ``-wal``, ``-shm`` and ``-journal``: stale ones would corrupt a replaced file."""
    for path in side_files(db_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def roll_back_hot_journal(db_path: Path) -> bool:
    """Roll back a hot rollback journal left by another writer; return whether one was there.

    A read-only connection cannot roll a hot ``-journal`` back, so the file
    would look damaged; a read-write open that reads the schema does it (the
    caller holds the maintenance lock, so no writer of ours is mid-transaction).
    """
    journal = journal_path(db_path)
    try:
        if journal.stat().st_size == 0 or not db_path.exists():
            return False
    except FileNotFoundError:
        return False
    conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        return False  # damaged: classification will say so, and the journal stays with the file
    finally:
        conn.close()
    return True


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
