"""Integrity checks of a database file, always through a read-only connection.

Before migrating we run ``PRAGMA quick_check``, not ``integrity_check``:
measured on the development machine at 2.3 s/GB against 24 s/GB. quick_check
verifies every page's structure and record format; what it skips — that
every index entry matches its table row — cannot lose data, and the full
``integrity_check`` still runs in the background after start-up and from
``check_db``. ``PRAGMA foreign_key_check`` runs on the whole database once
before an upgrade; after it, only what the migrations touched is checked
again (:func:`check_touched`).

Both checks can read the file through a memory map (``mmap``): the
foreign-key check looks up one parent row per child row, and without the map
every page it visits is a system call and a copy (1.11 s → 0.73 s on a
355 MB shop database); quick_check gains less, 15 % of its CPU time (1.19 →
1.01 s on 355 MB, 4.21 → 3.55 s on 1.17 GB, best of several runs). Only for
a file nobody truncates meanwhile: a database under the maintenance lock, one
pinned by a read transaction, or a backup on the database's own disk (a read
error through a map is a signal that kills the process, so not a file on a
stick that may be pulled out).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from maintenance.db import priority
from maintenance.db.sqlite_tools import leaving_no_side_files, open_readonly

MMAP_BYTES = 1 << 40  # SQLite caps it at its compile-time maximum; the map never exceeds the file


@dataclass
class IntegrityResult:
    ok: bool
    mode: str  # quick_check | integrity_check
    problems: list[str] = field(default_factory=list)
    foreign_key_violations: int = 0
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        if self.ok:
            return f"OK ({self.mode}, {self.seconds:.2f} s)"
        first = "; ".join(self.problems[:3])
        return f"{len(self.problems)} problem(s): {first}"


class Stopper:
    """The connections some checks opened, so another thread can stop them (Ctrl-C while it waits for them).

    A check whose connection opens after :meth:`stop` ends at once with an
    interrupted error. SQLite's interrupt reaches only a statement already
    running: call :meth:`stop` until the checks have ended.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self.stopped = False

    def opened(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self.stopped:
                raise sqlite3.OperationalError("interrupted")
            self._connections.append(conn)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):  # already closed: that check is over
                    conn.interrupt()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_connection(
    conn: sqlite3.Connection,
    *,
    full: bool = False,
    foreign_keys: bool = True,
    structure: bool = True,
    tables: Iterable[str] | None = None,
    fk_tables: Iterable[str] | None = None,
) -> IntegrityResult:
    """Check what ``conn`` sees (e.g. a pinned snapshot); a database SQLite cannot read is a failed result.

    ``tables`` limits the structure check to those tables and their indexes
    (``PRAGMA quick_check(TABLE)``, SQLite ≥ 3.33; it skips the free-list and
    unused-page accounting), ``fk_tables`` limits the foreign-key check to
    the rows of those tables. ``None`` means the whole database.
    """
    mode = ("integrity_check" if full else "quick_check") if structure else "foreign_key_check"
    started = time.perf_counter()
    problems: list[str] = []
    violations = 0
    try:
        if structure:
            targets = [None] if tables is None else sorted(set(tables))
            for table in targets:
                pragma = f"PRAGMA {mode}" if table is None else f"PRAGMA {mode}({_quote(table)})"
                rows = [r[0] for r in conn.execute(pragma)]
                if rows != ["ok"]:
                    problems.extend(str(r) for r in rows)
        if foreign_keys:
            targets = [None] if fk_tables is None else sorted(set(fk_tables))
            fk_rows: list[tuple] = []
            for table in targets:
                pragma = "PRAGMA foreign_key_check" if table is None else f"PRAGMA foreign_key_check({_quote(table)})"
                fk_rows.extend(conn.execute(pragma).fetchall())
            violations = len(fk_rows)
            problems.extend(f"foreign key violation in {r[0]} row {r[1]} → {r[2]}" for r in fk_rows[:20])
    except sqlite3.DatabaseError as err:
        problems.append(str(err))
    return IntegrityResult(
        ok=not problems,
        mode=mode,
        problems=problems,
        foreign_key_violations=violations,
        seconds=time.perf_counter() - started,
    )


def check_file(
    db_path: Path,
    *,
    full: bool = False,
    foreign_keys: bool = True,
    structure: bool = True,
    mmap: bool = False,
    tables: Iterable[str] | None = None,
    fk_tables: Iterable[str] | None = None,
    stopper: Stopper | None = None,
) -> IntegrityResult:
    """Return the integrity of ``db_path``; a file SQLite cannot read is a failed result.

    ``structure`` runs quick_check/integrity_check, ``foreign_keys`` runs
    foreign_key_check; each can be run alone so two threads can share the work.
    ``stopper`` lets another thread interrupt the check (its result then says so).
    """
    mode = ("integrity_check" if full else "quick_check") if structure else "foreign_key_check"
    try:
        with open_readonly(db_path) as conn:
            if stopper is not None:
                stopper.opened(conn)
            if mmap:
                conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}").fetchall()
            return check_connection(
                conn, full=full, foreign_keys=foreign_keys, structure=structure, tables=tables, fk_tables=fk_tables
            )
    except sqlite3.DatabaseError as err:
        return IntegrityResult(ok=False, mode=mode, problems=[str(err)])


def foreign_key_violations(conn: sqlite3.Connection) -> int:
    return len(conn.execute("PRAGMA foreign_key_check").fetchall())


def combine(structure: IntegrityResult, keys: IntegrityResult) -> IntegrityResult:
    """One result of a ``quick_check`` and a ``foreign_key_check`` that ran side by side."""
    return IntegrityResult(
        ok=structure.ok and keys.ok,
        mode="quick_check",
        problems=structure.problems + keys.problems,
        foreign_key_violations=keys.foreign_key_violations,
        seconds=max(structure.seconds, keys.seconds),
    )


def check_in_parallel(db_path: Path, *, mmap: bool = False, stopper: Stopper | None = None) -> IntegrityResult:
    """Run quick_check and foreign_key_check in two threads (SQLite releases the GIL).

    The foreign-key check, about half as long, runs at low priority: when
    other work (a backup's copy) shares the cores, ``quick_check`` still has one.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="check") as pool:
        structure = pool.submit(check_file, db_path, foreign_keys=False, mmap=mmap, stopper=stopper)
        keys = pool.submit(
            priority.lowered(check_file), db_path, foreign_keys=True, structure=False, mmap=mmap, stopper=stopper
        )
        return combine(structure.result(), keys.result())


# --- What a migration run touched -------------------------------------------
def _schema(db_path: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Return ``(type, name) → (tbl_name, sql)`` for every table, index, view and trigger."""
    with open_readonly(db_path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {(t, n): (tbl, sql) for t, n, tbl, sql in rows}


def touched_tables(before: Path, after: Path) -> tuple[set[str], set[str]]:
    """Return (tables to structure-check, tables to foreign-key-check) after a schema change.

    ``before`` is a byte-identical copy of the database before the migrations
    (the upgrade's verified backup), ``after`` the migrated database. A table
    is touched when it is new, dropped, its ``CREATE`` statement changed
    (Django's SQLite schema editor rebuilds a table for most alterations, so
    every row is rewritten), or an index or trigger on it appeared, vanished
    or changed. Foreign keys are checked on the touched tables and on every
    table whose foreign keys point at one of them (a rebuilt or dropped parent
    can leave dangling children).
    """
    old, new = _schema(before), _schema(after)
    touched: set[str] = set()
    for key in set(old) | set(new):
        if old.get(key) != new.get(key):
            for entry in (old.get(key), new.get(key)):
                if entry is not None:
                    touched.add(entry[0])
    existing = {name for (kind, name) in new if kind == "table"}
    fk_targets = set(touched & existing)
    if touched:
        with open_readonly(after) as conn:
            for table in existing:
                parents = {r[2] for r in conn.execute(f"PRAGMA foreign_key_list({_quote(table)})")}
                if parents & touched:
                    fk_targets.add(table)
    return touched & existing, fk_targets


#: Operations whose only effect on data is inside the tables whose schema they change.
SCHEMA_OPERATIONS = frozenset(
    {
        "CreateModel",
        "DeleteModel",
        "RenameModel",
        "AlterModelTable",
        "AlterModelTableComment",
        "AlterModelOptions",
        "AlterModelManagers",
        "AlterUniqueTogether",
        "AlterIndexTogether",
        "AlterOrderWithRespectTo",
        "AddField",
        "RemoveField",
        "AlterField",
        "RenameField",
        "AddIndex",
        "RemoveIndex",
        "RenameIndex",
        "AddConstraint",
        "RemoveConstraint",
        "AlterConstraint",
    }
)


def schema_only(migrations: Iterable[object]) -> bool:
    """Return whether every operation of these Django migrations is a known schema operation.

    ``RunPython``, ``RunSQL``, ``SeparateDatabaseAndState`` and anything custom
    may write any table with foreign-key enforcement off (Django's SQLite
    schema editor turns it off for the migration), so they need the whole check.
    """
    for migration in migrations:
        for operation in getattr(migration, "operations", None) or []:
            cls = type(operation)
            if cls.__name__ not in SCHEMA_OPERATIONS or not cls.__module__.startswith("django.db.migrations."):
                return False
    return True


def check_touched(db_path: Path, before: Path, *, mmap: bool = True) -> IntegrityResult:
    """Check only what a schema-only migration run changed, in two threads.

    ``quick_check(TABLE)`` on each touched table and ``foreign_key_check(TABLE)``
    on it and on its children; the rest of the database is byte for byte what
    passed the full pre-upgrade check minutes ago. The full ``integrity_check``
    runs in the background after start-up (:func:`maintenance.db.health.start_background_check`).
    """
    started = time.perf_counter()
    with leaving_no_side_files(before):
        structure_tables, fk_tables = touched_tables(before, db_path)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        structure = pool.submit(check_file, db_path, foreign_keys=False, mmap=mmap, tables=structure_tables)
        keys = pool.submit(check_file, db_path, structure=False, mmap=mmap, fk_tables=fk_tables)
        result = combine(structure.result(), keys.result())
    result.mode = f"quick_check of {len(structure_tables)} changed table(s)"
    result.seconds = time.perf_counter() - started
    return result
