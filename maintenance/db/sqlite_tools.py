"""Low-level SQLite file handling that never writes to a database it inspects."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def read_through(path: Path) -> None:
    """Read a file once from start to end, so that what reads it next, in any order, finds it in the page cache.

    ``quick_check`` reads a database in the order of its b-trees: on a file
    that is not cached (a backup made days ago, or one whose pages a backup
    handed back to the kernel, see :func:`_start_writeback`) that is one
    random read per page, and beside a copy of the same file it made the
    check several times slower (benchmarks/RESULTS.md). One sequential pass
    first costs a copy into a reused buffer when the file is already cached.
    """
    buffer = bytearray(CHUNK)
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while handle.readinto(buffer):
            pass


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a finished range out now, and not to keep it cached.

    On Linux ``POSIX_FADV_DONTNEED`` starts asynchronous writeback of the
    range's dirty pages and drops the clean ones: the disk works while the
    copy goes on (the final fsync has little left to do), a backup does not
    push the till's pages out of the cache, and dirty pages never pile up
    into one long writeback burst that would stall the till's own writes.
    """
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def copy_file(src: Path, dst: Path, *, progress: Callable[[int, int], None] | None = None) -> str:
    """Copy ``src`` to ``dst`` durably (fsynced) and return the sha256 of the bytes written.

    The copy goes through one buffer, chunk by chunk: each chunk is hashed
    (in a helper thread; hashlib releases the GIL) while the same buffer is
    written, so the hash is of exactly the bytes handed to ``write()``, not
    of a second read of either file. Finished chunks are handed to the
    kernel for writeback as the copy goes (:func:`_start_writeback`), which
    makes this as fast as ``cp && sync`` here (benchmarks/RESULTS.md).

    There is no read-back: right after the fsync a read-back comes from the
    page cache and proves nothing; one that really reads the disk (drop the
    pages, then read) cost about 1.1 times the copy again on this machine
    (2.4× ``cp && sync`` in all), and it is what :func:`verify_backup` and the
    validation before every restore do anyway, from a cold cache, when the
    backup is about to be trusted.
    """
    total = os.stat(src).st_size
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    done = 0
    with (
        open(src, "rb", buffering=0) as source,
        open(dst, "wb", buffering=0) as target,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-copy") as hasher,
    ):
        fd = target.fileno()
        while n := source.readinto(buffer):
            chunk = memoryview(buffer)[:n]
            hashing = hasher.submit(digest.update, chunk)
            try:
                written = 0
                while written < n:
                    written += target.write(chunk[written:])
            finally:
                hashing.result()  # the buffer is reused for the next chunk only once hashed
            chunk.release()
            _start_writeback(fd, done, n)
            done += n
            if progress:
                progress(done, total)
        os.fsync(fd)
        _start_writeback(fd, 0, 0)
    return digest.hexdigest()


@contextlib.contextmanager
def pinned_snapshot(
    db_path: Path, *, readers: int = 1, wait_s: float = 2.0, checkpoint_after: bool = True
) -> Iterator[list[sqlite3.Connection] | None]:
    """Yield ``readers`` connections in read transactions on a snapshot that is exactly the main file's bytes.

    While they stay open, the main file does not change and writers carry on,
    so the file can be copied byte for byte without holding the write lock.
    Yield ``None`` if that cannot be arranged within ``wait_s`` (a reader of an
    old snapshot keeps the write-ahead log from being checkpointed); the
    caller then uses SQLite's online backup instead.

    Why the main file stays unchanged (https://sqlite.org/wal.html,
    walTryBeginRead/walCheckpoint in sqlite3.c): once every frame of the log
    is checkpointed, a new read transaction ignores the log and reads the
    main file only (it holds read-lock 0). Writers still append to the log
    (readers never block writers in WAL mode) and may restart it, but a
    checkpoint must hold read-lock 0 exclusively to copy any frame back into
    the main file, and the till's automatic checkpoints are PASSIVE: they
    skip that step and never wait. In rollback-journal mode the read
    transaction's SHARED lock keeps writers from committing at all.

    Steps: a PASSIVE checkpoint without any lock does the bulk of the work;
    then, under the write lock for a moment, a second PASSIVE checkpoint moves
    whatever was committed in between and must report the whole log
    checkpointed; the readers begin their transactions; the write lock is
    released. The till waits at most for that moment (milliseconds).

    With ``checkpoint_after``, the log written while pinned is checkpointed
    when the snapshot is released (see the end of this function); the guarded
    upgrade turns that off: under its lock nobody else writes, and it records
    the file's state itself.
    """
    lock = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conns: list[sqlite3.Connection] = []
    wal = False
    try:
        conns = [
            sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
            for _ in range(max(readers, 1))
        ]
        for conn in conns:
            conn.execute("PRAGMA query_only = 1")
        wal = str(lock.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"

        def begin_reading() -> None:
            for conn in conns:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

        if not wal:
            begin_reading()
            yield conns
            return
        conns[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        deadline = time.monotonic() + wait_s
        while True:
            lock.execute("BEGIN IMMEDIATE")
            try:
                _busy, log, moved = conns[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                pinned = log == moved
                if pinned:
                    begin_reading()
            finally:
                lock.execute("ROLLBACK")
            if pinned:
                yield conns
                return
            if time.monotonic() > deadline:
                yield None
                return
            time.sleep(0.05)
    finally:
        for conn in conns:
            conn.close()
        if wal and checkpoint_after:
            # While pinned, no checkpoint could move the log back: the till's next automatic one would move
            # all it wrote meanwhile, and fsync, inside a sale. This thread pays for it instead.
            with contextlib.suppress(sqlite3.Error):
                lock.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        lock.close()


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
