"""Fixtures for the guarded-upgrade tests: real database files, real subprocesses.

``shop`` and ``v1_shop`` are in tests/conftest.py (the shell tests use them too).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def live_db(tmp_path: Path) -> Path:
    """A small WAL-mode database with one applied migration and 1,000 sales (totals 0..999)."""
    db = tmp_path / "pos_system.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('pos', '0001_initial', 'now')")
    conn.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, total_minor INTEGER)")
    conn.executemany("INSERT INTO sale (total_minor) VALUES (?)", [(i,) for i in range(1000)])
    conn.commit()
    conn.close()
    return db
