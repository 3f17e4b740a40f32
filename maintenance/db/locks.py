"""Who holds the database? Name the other process so the shop knows what to close."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psutil

from maintenance import exceptions
from maintenance.db import busy


def find_holders(db_path: Path) -> list[tuple[int, str]]:
    """Return ``(pid, description)`` of other processes with the database file open."""
    targets = {str(db_path.resolve()), str(db_path.resolve()) + "-wal"}
    holders = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.info["pid"] == os.getpid():
            continue
        try:
            if any(f.path in targets for f in proc.open_files()):
                cmd = " ".join(proc.info["cmdline"] or [])[:120] or proc.info["name"]
                holders.append((proc.info["pid"], cmd))
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return holders


def ensure_writable(db_path: Path, timeout: float = 2.0) -> None:
    """Raise DatabaseLockedError, naming the holder where visible, if we cannot write.

    A probe, not a retry: it waits ``timeout`` seconds for the write lock once
    (shorter than :data:`busy.POLICY`'s timeout, so the page naming the holder
    shows soon); retrying is :func:`maintenance.db.busy.retrying`'s job alone.
    """
    conn = sqlite3.connect(db_path, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as err:
        if busy.is_read_only(err):
            raise exceptions.ReadOnlyError(
                f"The database {db_path} is read-only, so the till cannot record sales. "
                "Make the file and its folder writable for this user, then press Retry."
            ) from err
        if not busy.is_busy(err):
            raise
        holders = find_holders(db_path)
        pid, name = holders[0] if holders else (None, None)
        who = f"process {pid} ({name})" if pid else "another program"
        raise exceptions.DatabaseLockedError(
            f"The database is in use by {who}. Close it, then press Retry.", holder_pid=pid, holder_name=name
        ) from err
    finally:
        conn.close()
