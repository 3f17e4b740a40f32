"""Looking at database files from outside the app: bytes, rows, and another process's lock."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path


def ro_uri(path: Path) -> str:
    """Return a read-only SQLite URI for ``path`` (percent-encoded: folder names may hold '#' or '?')."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(path: Path) -> list[str]:
    """Return the database's schema and rows as text: equal dumps mean equal data."""
    conn = sqlite3.connect(ro_uri(path), uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@contextlib.contextmanager
def holding_write_lock(db: Path):
    """Yield another process that holds the database's write lock (BEGIN IMMEDIATE)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        yield holder
    finally:
        holder.kill()
        holder.wait()
