"""Integrity checks of a database file, always through a read-only connection.

Before migrating we run ``PRAGMA quick_check``, not ``integrity_check``:
measured here at 2.3 s/GB against 24 s/GB (PLATFORM-NOTES.md). quick_check
verifies every page's structure and record format; what it skips — that
every index entry matches its table row — cannot lose data, and the full
``integrity_check`` still runs in the background after start-up and from
``check_db``. ``PRAGMA foreign_key_check`` runs on the whole database once.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from maintenance.db.sqlite_tools import open_readonly


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


def check_file(
    db_path: Path, *, full: bool = False, foreign_keys: bool = True, structure: bool = True
) -> IntegrityResult:
    """Return the integrity of ``db_path``; a file SQLite cannot read is a failed result.

    ``structure`` runs quick_check/integrity_check, ``foreign_keys`` runs
    foreign_key_check; each can be run alone so two threads can share the work.
    """
    mode = ("integrity_check" if full else "quick_check") if structure else "foreign_key_check"
    started = time.perf_counter()
    problems: list[str] = []
    violations = 0
    try:
        with open_readonly(db_path) as conn:
            if structure:
                rows = [r[0] for r in conn.execute(f"PRAGMA {mode}")]
                if rows != ["ok"]:
                    problems.extend(str(r) for r in rows)
            if foreign_keys:
                fk_rows = conn.execute("PRAGMA foreign_key_check").fetchall()
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


def foreign_key_violations(conn: sqlite3.Connection) -> int:
    return len(conn.execute("PRAGMA foreign_key_check").fetchall())


def check_in_parallel(db_path: Path) -> IntegrityResult:
    """Run quick_check and foreign_key_check in two threads (SQLite releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="check") as pool:
        structure = pool.submit(check_file, db_path, foreign_keys=False)
        keys = pool.submit(check_file, db_path, foreign_keys=True, structure=False)
        a, b = structure.result(), keys.result()
    return IntegrityResult(
        ok=a.ok and b.ok,
        mode="quick_check",
        problems=a.problems + b.problems,
        foreign_key_violations=b.foreign_key_violations,
        seconds=max(a.seconds, b.seconds),
    )
