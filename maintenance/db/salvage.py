"""Copy whatever can still be read from a damaged SQLite database into a new file.

Why: the first "Try Repair" stepped through rowids 500 at a time from -2**63
after a read error, so one unreadable page in the middle of a table made it run
for ever; it reported no progress and pasted paths into ``file:`` URIs (broken
by folder names with '#', '%', '?'). Here healthy stretches are copied inside
SQLite and a damaged one is stepped over with a bounded number of seeks
(exponential jumps forward, then a binary search back): about one read of the
file in all, progress per table, and an optional time budget. ``sqlite3
.recover`` is tried first, though Debian 12's tool (3.40, no ``sqlite_dbpage``)
always stops with "SQL logic error". The source is only ever opened read-only."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "METHOD_CLI",
    "METHOD_COPY",
    "METHOD_COPY_STOPPED",
    "ProgressFn",
    "TableRecovery",
    "salvage",
]

log = logging.getLogger(__name__)

METHOD_CLI = "sqlite3 .recover"
METHOD_COPY = "table copy"
METHOD_COPY_STOPPED = "table copy (stopped at the time budget)"

ProgressFn = Callable[[str, int, int], None]  # (table, done_tables, total_tables)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
BATCH_ROWS = 500  # rows per INSERT from Python, near damage
FAST_CHUNK_ROWS = 4000  # rows per INSERT ... SELECT inside SQLite, on healthy stretches
MIN_FAST_SPAN = 64  # rowids: a failing range this small is read from Python
SOURCE_SCHEMA = "salvage_source"
# The tool is a guard against a hung process, not an estimate: .recover plus the load.
CLI_TIMEOUT_BASE_S = 30.0
CLI_TIMEOUT_PER_GIB_S = 120.0


@dataclass
class TableRecovery:
    table: str
    original_rows: int | None  # None: the damaged file could not count them
    recovered_rows: int
    skipped_ranges: int = 0  # damaged stretches stepped over (table copy only)

    @property
    def lost_rows(self) -> int | None:
        if self.original_rows is None:
            return None
        return max(self.original_rows - self.recovered_rows, 0)


class _CliFailed(Exception):
    pass


class _Clock:
    def __init__(self, budget_s: float | None) -> None:
        self.deadline = None if budget_s is None else time.monotonic() + max(budget_s, 0.0)

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _decode_text(raw: bytes) -> str:
    # A damaged cell may hold bytes that are not UTF-8; keep the row rather than lose it.
    return raw.decode("utf-8", errors="replace")


def _open_source(source: Path) -> sqlite3.Connection:
    """Open ``source`` read-only through a proper URI (any folder name works)."""
    conn = sqlite3.connect(source.as_uri() + "?mode=ro", uri=True, isolation_level=None)
    conn.text_factory = _decode_text
    for pragma in ("query_only = ON", "cell_size_check = ON"):
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute(f"PRAGMA {pragma}")
    return conn


def _remove_database(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as handle:
        os.fsync(handle.fileno())


# --- what the damaged file still says --------------------------------------------------------------


@dataclass
class _SchemaEntry:
    type: str
    name: str
    tbl_name: str
    sql: str | None


def _read_schema(src: sqlite3.Connection) -> list[_SchemaEntry]:
    """Return sqlite_master in storage order; raises if the schema itself cannot be read."""
    rows = src.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    return [_SchemaEntry(*row) for row in rows]


def _user_tables(schema: Iterable[_SchemaEntry]) -> list[_SchemaEntry]:
    return [e for e in schema if e.type == "table" and not e.name.lower().startswith("sqlite_")]


def _is_virtual(entry: _SchemaEntry) -> bool:
    return (entry.sql or "").lstrip().upper().startswith("CREATE VIRTUAL")


def _count_rows(conn: sqlite3.Connection, table: str) -> int | None:
    """Count a table's rows, through any b-tree of it that is still readable.

    ``count(*)`` walks the smallest index; if that is damaged, the table
    itself or another full (non-partial) index may still be whole.
    """
    # Identifiers come from the file's own schema and are quoted by _q; values are always bound.
    counted = f"SELECT count(*) FROM {_q(table)}"  # noqa: S608
    attempts = [counted, counted + " NOT INDEXED"]
    with contextlib.suppress(sqlite3.DatabaseError):
        for _seq, index, _unique, _origin, partial in conn.execute(f"PRAGMA index_list({_q(table)})").fetchall():
            if not partial:
                attempts.append(f"{counted} INDEXED BY {_q(index)}")
    for sql in attempts[:4]:
        with contextlib.suppress(sqlite3.DatabaseError):
            return int(conn.execute(sql).fetchone()[0])
    return None


def _plain_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Columns that take an INSERT: neither hidden nor generated."""
    rows = conn.execute(f"PRAGMA table_xinfo({_q(table)})").fetchall()
    return [r[1] for r in rows if r[6] == 0]


def _rowid_alias(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> str | None:
    """A name for the table's rowid, or None for WITHOUT ROWID tables (or when columns take all three names)."""
    taken = {c.lower() for c in columns}
    for alias in ("rowid", "_rowid_", "oid"):
        if alias in taken:
            continue
        try:  # only prepared, nothing is read: fails with "no such column" on a WITHOUT ROWID table
            conn.execute(f"SELECT {alias} FROM {_q(table)} LIMIT 0").fetchall()  # noqa: S608
        except sqlite3.OperationalError:
            return None
        return alias
    return None


def _primary_key_order(conn: sqlite3.Connection, table: str, reverse: bool) -> str | None:
    """ORDER BY clause walking a WITHOUT ROWID table's primary key (reversed if asked)."""
    for _seq, index, _unique, origin, _partial in conn.execute(f"PRAGMA index_list({_q(table)})").fetchall():
        if origin != "pk":
            continue
        terms = []
        for _seqno, _cid, name, desc, coll, key in conn.execute(f"PRAGMA index_xinfo({_q(index)})").fetchall():
            if key and name is not None:
                ascending = not desc if not reverse else bool(desc)
                terms.append(f"{_q(name)} COLLATE {_q(coll)} {'ASC' if ascending else 'DESC'}")
        return ", ".join(terms) if terms else None
    return None


# --- the sqlite3 command-line tool -------------------------------------------------------------------


def _no_window() -> dict:
    if sys.platform == "win32":  # a windowed till must not flash a console
        return {"creationflags": subprocess.CREATE_NO_WINDOW}  # type: ignore[attr-defined]
    return {}


def _cli_timeout(source: Path, explicit: float | None, clock: _Clock) -> float:
    if explicit is not None:
        timeout = explicit
    else:
        size_gib = source.stat().st_size / 2**30
        timeout = CLI_TIMEOUT_BASE_S + CLI_TIMEOUT_PER_GIB_S * size_gib
    remaining = clock.remaining()
    if remaining is not None:  # leave half of what is left for the table copy
        timeout = min(timeout, remaining / 2)
    return max(timeout, 0.1)


def _read_tail(handle, limit: int = 2000) -> str:
    handle.seek(0)
    return handle.read().decode(errors="replace").strip()[-limit:]


def _recover_with_cli(cli: str, source: Path, target: Path, timeout: float) -> None:
    """Stream ``sqlite3 -readonly SOURCE .recover`` into ``sqlite3 TARGET``; raise _CliFailed if anything fails.

    Paths are arguments, never shell text; both are absolute, so neither can be
    taken for an option (``-x``) or a URI (``file:``). ``-init`` keeps a
    user's ``~/.sqliterc`` out of it.
    """
    common = [cli, "-batch", "-init", os.devnull]
    with tempfile.TemporaryFile() as recover_err, tempfile.TemporaryFile() as load_err:
        recover = subprocess.Popen(
            [*common, "-readonly", str(source), ".recover"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=recover_err,
            **_no_window(),
        )
        try:
            load = subprocess.Popen(
                [*common, str(target)],
                stdin=recover.stdout,
                stdout=subprocess.DEVNULL,
                stderr=load_err,
                **_no_window(),
            )
        except OSError:
            recover.kill()
            recover.wait()
            raise
        assert recover.stdout is not None
        recover.stdout.close()  # the loader holds the pipe now; if it dies, .recover gets EPIPE
        deadline = time.monotonic() + timeout
        try:
            recover_rc = recover.wait(timeout=max(deadline - time.monotonic(), 0.01))
            load_rc = load.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            for proc in (recover, load):
                proc.kill()
            for proc in (recover, load):
                proc.wait()
            raise _CliFailed(f"sqlite3 .recover did not finish within {timeout:.0f} s") from None
        if recover_rc != 0 or load_rc != 0:
            # Seen with Debian's sqlite3 3.40: ".recover" stops with "SQL logic error" (no sqlite_dbpage).
            raise _CliFailed(
                f"sqlite3 .recover failed (exit {recover_rc}: {_read_tail(recover_err)}; "
                f"load exit {load_rc}: {_read_tail(load_err)})"
            )
    if not target.exists():
        raise _CliFailed("sqlite3 .recover produced no database")
    with contextlib.closing(sqlite3.connect(target.as_uri() + "?mode=ro", uri=True)) as conn:
        verdict = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    if verdict != ["ok"]:
        raise _CliFailed("the recovered database fails quick_check: " + "; ".join(map(str, verdict[:5])))


def _report_after_cli(source: Path, target: Path, progress: ProgressFn | None, clock: _Clock) -> list[TableRecovery]:
    with contextlib.closing(_open_source(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        try:
            names = [e.name for e in _user_tables(_read_schema(src))]
        except sqlite3.DatabaseError:
            names = []
        # .recover may add a lost_and_found table: it is reported too.
        recovered = {e.name for e in _user_tables(_read_schema(dst))}
        names += sorted(recovered - set(names))
        tables = []
        for done, name in enumerate(names, 1):
            original = None if clock.expired() else _count_rows(src, name)
            copied = (_count_rows(dst, name) or 0) if name in recovered else 0
            tables.append(TableRecovery(name, original, copied))
            if progress:
                progress(name, done, len(names))
    return tables


# --- table by table --------------------------------------------------------------------------------


class _TableCopier:
    """Copy one table's readable rows into the target, stepping over damage in bounded time.

    Healthy stretches are copied inside SQLite (``INSERT ... SELECT`` from the
    source attached read-only to the target connection), a rowid range at a
    time. A range whose copy fails is read again row by row from Python, which
    keeps every row before the damage and then looks for the next readable rowid.
    """

    def __init__(
        self,
        src: sqlite3.Connection,
        dst: sqlite3.Connection,
        table: str,
        columns: list[str],
        conflict: str,
        clock: _Clock,
        attached: bool,
    ) -> None:
        self.src, self.dst, self.table, self.clock = src, dst, table, clock
        self.columns, self.conflict, self.attached = columns, conflict, attached
        self.cols = ", ".join(_q(c) for c in columns)
        self.skipped_ranges = 0
        self.stopped = False  # the time budget ran out
        self.read_failed = False
        self._probe_sql = ""

    def _insert_rows(self, insert: str, rows: list[tuple]) -> None:
        self.dst.execute("BEGIN")
        self.dst.executemany(insert, rows)
        self.dst.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[object] = ()) -> Generator[tuple, None, None]:
        """Yield the source's rows until the end or a read error (then ``self.read_failed`` is set).

        Only reading the source is guarded here: an error writing the target
        (disk full) is raised where the caller inserts, not taken for damage.
        """
        self.read_failed = False
        try:
            yield from self.src.execute(sql, params)
        except sqlite3.DatabaseError as err:
            log.info("salvage: %s: read error: %s", self.table, err)
            self.read_failed = True

    # rowid tables

    def copy_by_rowid(self, alias: str) -> None:
        table = _q(self.table)
        # Identifiers come from the file's own schema and are quoted by _q; values are always bound.
        ranged = f"SELECT {self.cols}, {alias} FROM {{}}{table} WHERE {alias} BETWEEN ? AND ? ORDER BY {alias}"  # noqa: S608
        # The rowid goes last: for an INTEGER PRIMARY KEY table it equals that column anyway.
        into = f"INSERT OR {self.conflict} INTO main.{table} ({self.cols}, {alias})"
        fast = f"{into} {ranged.format(SOURCE_SCHEMA + '.')}"
        slow = ranged.format("")
        insert = f"{into} VALUES ({', '.join('?' * (len(self.columns) + 1))})"
        self._probe_sql = f"SELECT {self.cols}, {alias} FROM {table} WHERE {alias} >= ? ORDER BY {alias} LIMIT 1"  # noqa: S608
        seek = f"SELECT {alias} FROM {table} WHERE {alias} >= ? ORDER BY {alias} LIMIT 1"  # noqa: S608

        span, need_seek = 4 * FAST_CHUNK_ROWS, True
        pos: int | None = INT64_MIN
        while pos is not None:
            if self.clock.expired():
                self.stopped = True
                return
            readable = True
            if need_seek:  # jump over a gap in the rowids (or find that the table ends here)
                try:
                    row = self.src.execute(seek, (pos,)).fetchone()
                except sqlite3.DatabaseError:
                    readable = False
                else:
                    if row is None:
                        return
                    pos = row[0]
            stop = min(pos + span - 1, INT64_MAX)
            copied = self._fast(fast, pos, stop) if readable else None
            if copied is None and span > MIN_FAST_SPAN:
                span = max(span // 4, MIN_FAST_SPAN)  # close in on the damage inside SQLite
                continue
            if copied is None:
                pos, need_seek = self._slow(slow, insert, pos, stop), False
                continue
            if copied < FAST_CHUNK_ROWS // 2:
                span = min(span * 2, 2**62)
            elif copied > FAST_CHUNK_ROWS * 2:
                span = max(span // 2, 1)
            pos, need_seek = (stop + 1 if stop < INT64_MAX else None), copied == 0

    def _fast(self, sql: str, start: int, stop: int) -> int | None:
        """Copy the rows with rowid in [start, stop] inside SQLite; None if that failed (nothing is kept)."""
        if not self.attached:
            return None
        try:
            return self.dst.execute(sql, (start, stop)).rowcount
        except sqlite3.DatabaseError:
            if self.dst.in_transaction:
                self.dst.execute("ROLLBACK")
            return None

    def _slow(self, select: str, insert: str, start: int, stop: int) -> int | None:
        """Copy rows with rowid in [start, stop] from Python up to the damage; return where to go on after it."""
        pos = start
        while True:
            last, failed = self._read_run(select, insert, pos, stop)
            if self.stopped or last == INT64_MAX:
                return None
            if not failed:
                return stop + 1 if stop < INT64_MAX else None
            # The row after ``last`` (or the first at or after ``pos``) could not be read.
            failing = pos if last is None else last + 1
            if last is not None and self._probe(failing):
                pos = failing  # stepping on failed but a fresh seek works: go on from there
                continue
            self.skipped_ranges += 1
            return self._next_readable(failing)  # past the damage: back to copying inside SQLite

    def _read_run(self, select: str, insert: str, start: int, stop: int) -> tuple[int | None, bool]:
        """Copy rows from ``start`` to ``stop`` until an error or the deadline; return (last rowid, failed)."""
        last: int | None = None
        batch: list[tuple] = []
        rows = self._rows(select, (start, stop))
        for row in rows:
            rowid = row[-1]
            if not isinstance(rowid, int) or rowid < start or (last is not None and rowid <= last):
                continue  # out of order: a garbled page; never go backwards
            batch.append(row)
            last = rowid
            if len(batch) >= BATCH_ROWS:
                self._insert_rows(insert, batch)
                batch.clear()
                if self.clock.expired():
                    self.stopped = True
                    rows.close()
                    break
        if batch:
            self._insert_rows(insert, batch)
        return last, self.read_failed

    def _probe(self, start: int) -> bool:
        """Can the first row at or after ``start`` be read (or is there none)?"""
        try:
            self.src.execute(self._probe_sql, (start,)).fetchall()
        except sqlite3.DatabaseError:
            return False
        return True

    def _next_readable(self, failing: int) -> int | None:
        """Return the smallest start after ``failing`` from which reading works, or None.

        Jump forward 1, 2, 4, ... rowids until a read succeeds (at most 64
        jumps to the int64 limit), then bisect between the last failing and the
        first working start so that as few readable rows as possible are lost.
        """
        if failing >= INT64_MAX:
            return None
        lo, step = failing, 1
        while True:
            if self.clock.expired():
                self.stopped = True
                return None
            hi = min(failing + step, INT64_MAX)
            if self._probe(hi):
                break
            if hi == INT64_MAX:
                return None  # nothing readable up to the end of the rowid range
            lo, step = hi, step * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._probe(mid):
                hi = mid
            else:
                lo = mid
        return hi

    # WITHOUT ROWID tables (and the odd table whose rowid has no free name): no integer key to jump on,
    # so read forwards until the damage and then backwards from the end until the damage.

    def copy_by_scan(self, reverse_order: str | None) -> None:
        table = _q(self.table)
        marks = ", ".join("?" * len(self.columns))
        insert = f"INSERT OR {self.conflict} INTO main.{table} ({self.cols}) VALUES ({marks})"  # noqa: S608
        failed = self._scan(f"SELECT {self.cols} FROM {table}", insert)  # noqa: S608
        if failed:
            self.skipped_ranges += 1
            if reverse_order and not self.stopped:
                self._scan(f"SELECT {self.cols} FROM {table} ORDER BY {reverse_order}", insert)  # noqa: S608

    def _scan(self, select: str, insert: str) -> bool:
        batch: list[tuple] = []
        rows = self._rows(select)
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                self._insert_rows(insert, batch)
                batch.clear()
                if self.clock.expired():
                    self.stopped = True
                    rows.close()
                    break
        if batch:
            self._insert_rows(insert, batch)
        return self.read_failed


def _prepare_target(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """Give the new file the source's encoding, page size and header numbers before anything is created."""
    for pragma in ("encoding", "page_size", "auto_vacuum"):
        with contextlib.suppress(sqlite3.DatabaseError, TypeError):
            value = src.execute(f"PRAGMA {pragma}").fetchone()[0]
            dst.execute(f"PRAGMA main.{pragma} = {value!r}")
    for pragma in ("user_version", "application_id"):
        with contextlib.suppress(sqlite3.DatabaseError, TypeError):
            dst.execute(f"PRAGMA main.{pragma} = {int(src.execute(f'PRAGMA {pragma}').fetchone()[0])}")
    # A scratch file: a crash leaves junk that the caller throws away, never a damaged live database.
    dst.execute("PRAGMA main.journal_mode = MEMORY")
    dst.execute("PRAGMA main.synchronous = OFF")


def _attach_source(dst: sqlite3.Connection, source: Path) -> bool:
    """Attach the source read-only to the target connection, for copies that stay inside SQLite."""
    try:
        dst.execute(f"ATTACH DATABASE ? AS {SOURCE_SCHEMA}", (source.as_uri() + "?mode=ro",))
        # mode=ro keeps it read-only (query_only would apply to the whole connection, the target too).
        dst.execute("PRAGMA cell_size_check = ON")
    except sqlite3.DatabaseError as err:
        log.info("salvage: cannot attach the source (%s); copying from Python only", err)
        return False
    return True


def _copy_sequences(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """Keep AUTOINCREMENT counters, so ids of deleted rows are never handed out again."""
    try:
        rows = src.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return
    dst.execute("BEGIN")
    with contextlib.suppress(sqlite3.DatabaseError):
        for name, seq in rows:
            if not isinstance(seq, int):
                continue
            cur = dst.execute("UPDATE main.sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name))
            if cur.rowcount == 0:
                dst.execute("INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))
    dst.execute("COMMIT")


def _create_tables(dst: sqlite3.Connection, tables: list[_SchemaEntry]) -> dict[str, str | None]:
    """Create the tables; return each one's conflict clause for its INSERTs (None: its rows are not copied)."""
    created: dict[str, str | None] = {}
    dst.execute("BEGIN")
    for entry in tables:
        if not entry.sql:
            created[entry.name] = None
            continue
        try:
            dst.execute(entry.sql)
            created[entry.name] = None if _is_virtual(entry) else "IGNORE"
        except sqlite3.DatabaseError as err:
            exists = dst.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", (entry.name,)).fetchone()
            # A virtual table's shadow tables already exist: the source's rows replace the fresh ones.
            created[entry.name] = "REPLACE" if exists else None
            if not exists:
                log.warning("salvage: cannot create %s: %s", entry.name, err)
    dst.execute("COMMIT")
    return created


def _copy_tables(
    source: Path, target: Path, progress: ProgressFn | None, clock: _Clock
) -> tuple[bool, list[TableRecovery]]:
    """Return (stopped at the time budget, tables)."""
    stopped = False
    results: list[TableRecovery] = []
    with (
        contextlib.closing(_open_source(source)) as src,
        contextlib.closing(sqlite3.connect(target.as_uri(), uri=True, isolation_level=None)) as dst,
    ):
        _prepare_target(src, dst)
        schema = _read_schema(src)
        tables = _user_tables(schema)
        created = _create_tables(dst, tables)
        attached = _attach_source(dst, source)

        for done, entry in enumerate(tables, 1):
            name = entry.name
            if stopped or clock.expired():
                stopped = True
                results.append(TableRecovery(name, None, 0))
            else:
                original = _count_rows(src, name)
                skipped = 0
                conflict = created.get(name)
                if conflict is not None:
                    outcome = _copy_one_table(src, dst, name, conflict, clock, attached)
                    if outcome is not None:
                        skipped, stopped = outcome
                # main comes before the attached source when a name is looked up
                copied = (_count_rows(dst, name) or 0) if conflict is not None else 0
                results.append(TableRecovery(name, original, copied, skipped))
            if progress:
                progress(name, done, len(tables))

        if attached:
            dst.execute(f"DETACH DATABASE {SOURCE_SCHEMA}")
        _copy_sequences(src, dst)
        # Indexes, views and triggers last: triggers must not fire during the copy, and one index
        # that the salvaged rows violate (or a view on a lost table) must not cost the rest.
        for entry in schema:
            if entry.type in ("index", "view", "trigger") and entry.sql:
                try:
                    dst.execute(entry.sql)
                except sqlite3.DatabaseError as err:
                    log.warning("salvage: cannot create %s %s: %s", entry.type, entry.name, err)
    _fsync_file(target)
    return stopped, results


def _copy_one_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, conflict: str, clock: _Clock, attached: bool
) -> tuple[int, bool] | None:
    """Copy one table; return (skipped ranges, stopped at the budget), None if its layout cannot be read."""
    try:
        columns = _plain_columns(src, table)
        alias = _rowid_alias(src, table, columns)
        reverse = None if alias else _primary_key_order(src, table, reverse=True)
    except sqlite3.DatabaseError as err:
        log.warning("salvage: cannot read the layout of %s: %s", table, err)
        return None
    if not columns:
        return None
    copier = _TableCopier(src, dst, table, columns, conflict, clock, attached)
    if alias:
        copier.copy_by_rowid(alias)
    else:
        copier.copy_by_scan(reverse)
    return copier.skipped_ranges, copier.stopped


# --- entry point -----------------------------------------------------------------------------------


def salvage(
    source: Path,
    target: Path,
    *,
    progress: ProgressFn | None = None,
    time_budget_s: float | None = None,
    use_cli: bool = True,
    cli_timeout_s: float | None = None,
) -> tuple[str, list[TableRecovery]]:
    """Copy everything readable from ``source`` into the new database ``target``.

    Return ``(method, tables)``: ``method`` is METHOD_CLI, METHOD_COPY, or
    METHOD_COPY_STOPPED when ``time_budget_s`` ran out (tables not reached
    then show 0 rows and an unknown original count). ``progress(table,
    done_tables, total_tables)`` is called after each table. ``source`` is only
    ever opened read-only. ``target`` must not exist; it is removed again if
    salvage raises (``sqlite3.DatabaseError`` when not even the schema can be
    read). The caller checks the result (integrity_check) before using it.
    """
    source, target = Path(source).resolve(), Path(target).resolve()
    if not source.is_file():
        raise FileNotFoundError(source)
    if target.exists():
        raise FileExistsError(target)
    clock = _Clock(time_budget_s)
    cli = shutil.which("sqlite3") if use_cli else None
    if cli:
        try:
            _recover_with_cli(cli, source, target, _cli_timeout(source, cli_timeout_s, clock))
            return METHOD_CLI, _report_after_cli(source, target, progress, clock)
        except (_CliFailed, OSError, subprocess.SubprocessError, sqlite3.DatabaseError) as err:
            log.warning("salvage: %s; copying table by table instead", err)
            _remove_database(target)
    try:
        stopped, tables = _copy_tables(source, target, progress, clock)
    except BaseException:
        _remove_database(target)
        raise
    return (METHOD_COPY_STOPPED if stopped else METHOD_COPY), tables
