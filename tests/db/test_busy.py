"""A busy database: recognised by SQLite's error code, retried at one level only, each retry reported."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from maintenance import exceptions
from maintenance.config import MaintenanceConfig
from maintenance.db import busy, upgrade
from maintenance.db.progress import Progress


def _busy_error(tmp_path: Path) -> sqlite3.OperationalError:
    """Return the error SQLite really raises when another connection holds the write lock."""
    db = tmp_path / "busy.db"
    holder = sqlite3.connect(db, isolation_level=None)
    other = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
        return caught.value
    finally:
        other.close()
        holder.close()


def test_a_busy_error_is_recognised_by_its_code(tmp_path):
    err = _busy_error(tmp_path)
    assert err.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert busy.is_busy(err)
    # the typed error raised from it is busy too; a refusal by another writer (no SQLite error) is not
    locked = exceptions.DatabaseLockedError("The database is in use by another program.")
    locked.__cause__ = err  # as ``raise … from err`` sets it
    assert busy.is_busy(locked)
    assert not busy.is_busy(exceptions.DatabaseLockedError("AurSwift is running (process 1): quit it first."))
    assert not busy.is_busy(sqlite3.OperationalError("no such table: pos_order"))
    assert busy.is_busy(sqlite3.OperationalError("database is locked"))  # no code: the words SQLite uses


def test_a_read_only_file_is_recognised_by_its_code(tmp_path):
    db = tmp_path / "ro.db"
    sqlite3.connect(db).close()
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            conn.execute("CREATE TABLE t (x)")
    finally:
        conn.close()
    assert busy.is_read_only(caught.value)
    assert not busy.is_busy(caught.value)


def test_the_policy_retries_busy_errors_only_and_reports_each_retry(tmp_path):
    err = _busy_error(tmp_path)
    calls, retries, waits = [], [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise exceptions.DatabaseLockedError("The database is in use by another program.") from err
        return "done"

    assert busy.retrying(flaky, on_retry=retries.append, sleep=waits.append) == "done"
    assert (len(calls), retries, waits) == (3, [1, 2], [1.0, 2.0])

    still_busy = []

    def never_free() -> None:
        still_busy.append(1)
        raise err

    with pytest.raises(sqlite3.OperationalError):
        busy.retrying(never_free, sleep=waits.append)
    assert len(still_busy) == busy.POLICY.attempts

    refusals = []

    def refused() -> None:
        refusals.append(1)
        raise exceptions.DatabaseLockedError("AurSwift is running (process 1): quit it first.")

    with pytest.raises(exceptions.DatabaseLockedError):
        busy.retrying(refused, sleep=waits.append)
    assert refusals == [1], "another writer is not waited for: it does not quit in seconds"


def test_the_guarded_upgrade_is_the_one_level_that_retries(tmp_path, monkeypatch):
    """Three busy attempts, then the error; the progress says what the start-up page says."""
    err = _busy_error(tmp_path)
    attempts = []

    def always_busy(*args: object) -> None:
        attempts.append(1)
        raise exceptions.DatabaseLockedError("The database is in use by another program.") from err

    monkeypatch.setattr(upgrade, "_run_once", always_busy)
    monkeypatch.setattr(busy, "POLICY", busy.BusyPolicy(waits=(0.0,)))
    seen: list[Progress] = []
    config = MaintenanceConfig(db_path=tmp_path / "pos_system.db", data_dir=tmp_path, app_version="0.1.0")
    with pytest.raises(exceptions.DatabaseLockedError):
        upgrade.run_guarded_upgrade(config=config, progress=seen.append)
    assert len(attempts) == busy.POLICY.attempts == 3
    assert [p.message for p in seen] == [
        "The database is busy; trying again (1)…",
        "The database is busy; trying again (2)…",
    ]
