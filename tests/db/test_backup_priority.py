"""A manager's backup and the background check run at low priority: the till's threads get the CPU first.

benchmarks/till_during_backup.py measures what this buys (the till's requests
while "Back up now" runs); here: which threads run niced, and that the thread
that asked for the work keeps its own priority.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from maintenance.config import MaintenanceConfig
from maintenance.db import backups, health, integrity, priority, upgrade
from tests.helpers.app import REPO_ROOT
from tests.helpers.sqlite import sha

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="threads have nice values of their own only on Linux"
    ),
    pytest.mark.skipif(
        priority.thread_nice() >= priority.BACKGROUND_NICE,
        reason="the tests already run at low priority (e.g. under `nice`): lowering a thread changes nothing to see",
    ),
]


def test_a_manual_backup_copies_at_low_priority_and_the_caller_keeps_its_own(live_db, tmp_path):
    seen: list[int] = []
    before = priority.thread_nice()
    info = backups.create_manual_backup(
        live_db, tmp_path / "backups", progress=lambda step: seen.append(priority.thread_nice())
    )
    assert seen and min(seen) >= priority.BACKGROUND_NICE  # progress is reported by the copying thread
    assert priority.thread_nice() == before  # a waitress thread or the command's main thread is not lowered
    assert json.loads(info.path.with_suffix(".json").read_text())["sha256"] == sha(info.path)
    conn = sqlite3.connect(info.path)
    assert conn.execute("SELECT sum(total_minor) FROM sale").fetchone()[0] == sum(range(1000))
    conn.close()


def test_threads_started_by_background_work_are_low_priority_too():
    """The snapshot's checker and the copy's hasher are started by the backup's thread: they inherit its nice."""

    def start_a_helper() -> int:
        result: list[int] = []
        helper = threading.Thread(target=lambda: result.append(priority.thread_nice()))
        helper.start()
        helper.join()
        return result[0]

    assert priority.in_background(start_a_helper) >= priority.BACKGROUND_NICE


def test_background_work_raises_its_error_in_the_caller():
    def fail() -> None:
        raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):
        priority.in_background(fail)


def test_the_check_after_start_up_runs_at_low_priority(live_db, tmp_path, monkeypatch):
    seen: list[int] = []
    monkeypatch.setattr(health, "run_and_save", lambda db, data: seen.append(priority.thread_nice()))
    health.start_background_check(live_db, tmp_path).join(timeout=30)
    assert seen == [priority.BACKGROUND_NICE]


def test_ctrl_c_during_a_manual_backup_stops_it_and_keeps_no_partial_backup(live_db, tmp_path):
    """The command's main thread waits for the low-priority worker; Ctrl-C there must stop the worker too."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "SIGINT reaches Python's main thread only"
    before = sha(live_db)

    def press_ctrl_c_once(step) -> None:
        if step.message.startswith("Backing up") and not pressed:
            pressed.append(True)
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.5)  # the main thread is interrupted meanwhile; the next step sees the cancel

    pressed: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        backups.create_manual_backup(live_db, tmp_path / "backups", progress=press_ctrl_c_once)
    assert pressed == [True]
    assert list((tmp_path / "backups").iterdir()) == []  # no backup, no .partial, no sidecar
    assert sha(live_db) == before


def test_ctrl_c_after_the_backup_was_saved_reports_the_backup(live_db, tmp_path):
    """Too late to cancel: the backup is complete, so it is kept and reported, not dropped with the interruption."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "SIGINT reaches Python's main thread only"

    def press_ctrl_c_when_saved(step) -> None:
        if step.message.startswith(backups.SAVED):
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.3)

    info = backups.create_manual_backup(live_db, tmp_path / "backups", progress=press_ctrl_c_when_saved)
    assert info.path.exists() and json.loads(info.path.with_suffix(".json").read_text())["sha256"] == sha(info.path)


def test_an_upgrade_leaves_a_core_to_quick_check_the_part_it_waits_for(live_db, tmp_path, monkeypatch):
    """The foreign-key check and the backup's copy run lowered beside the pre-upgrade quick_check, which does not."""
    nice: dict[str, int] = {}
    real_check = upgrade.check_connection

    def check(conn, *, structure, foreign_keys):
        nice["quick_check" if structure else "foreign_key_check"] = priority.thread_nice()
        return real_check(conn, structure=structure, foreign_keys=foreign_keys)

    monkeypatch.setattr(upgrade, "check_connection", check)
    before = priority.thread_nice()
    checks = upgrade.SnapshotChecks.start(live_db)
    assert checks is not None, "a WAL database's snapshot is pinned for the checks"
    copying: list[int] = []
    config = MaintenanceConfig(db_path=live_db, data_dir=tmp_path, app_version="0.1.0")
    backup = upgrade._backup_beside(
        checks, config, lambda step: copying.append(priority.thread_nice()), database_version=None
    )
    result = checks.result()
    assert result.ok and result.problems == []
    assert nice == {"quick_check": before, "foreign_key_check": priority.BACKGROUND_NICE}
    assert copying and min(copying) >= priority.BACKGROUND_NICE
    assert priority.thread_nice() == before
    assert json.loads(backup.path.with_suffix(".json").read_text())["sha256"] == sha(backup.path) == sha(live_db)


def test_checks_in_parallel_lower_the_foreign_key_check_only(live_db, monkeypatch):
    nice: dict[str, int] = {}
    real_check = integrity.check_file

    def check(path, *, structure=True, foreign_keys=True, **options):
        nice["quick_check" if structure else "foreign_key_check"] = priority.thread_nice()
        return real_check(path, structure=structure, foreign_keys=foreign_keys, **options)

    monkeypatch.setattr(integrity, "check_file", check)
    assert integrity.check_in_parallel(live_db).ok
    assert nice == {"quick_check": priority.thread_nice(), "foreign_key_check": priority.BACKGROUND_NICE}


QUIT_DURING_BACKGROUND_WORK = """
import sys, threading, time
from maintenance.db import priority
threading.Thread(target=lambda: priority.in_background(lambda: time.sleep(30)), daemon=True).start()
time.sleep(0.3)
print("quitting", flush=True)
"""


def test_quitting_the_app_does_not_wait_for_work_its_daemon_threads_started():
    """The admin's backup job is a daemon thread: the app's process ends when it quits, backup or not."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", QUIT_DURING_BACKGROUND_WORK], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "quitting", done.stderr
    assert time.monotonic() - started < 10  # not the 30 s of the work


def test_ctrl_c_while_the_worker_is_starting_still_cancels_it_and_waits_for_it(monkeypatch):
    """A Ctrl-C inside Thread.start() used to escape at once, leaving the backup running unwatched."""
    real_thread = threading.Thread

    class InterruptedWhileStarting(real_thread):
        def start(self) -> None:
            super().start()
            signal.raise_signal(signal.SIGINT)  # handled at once, still inside start()

    cancelled, finished = threading.Event(), []

    def work() -> None:  # as a backup does: it stops at its next step once cancelled
        cancelled.wait(5)
        time.sleep(0.2)
        finished.append(True)
        raise RuntimeError("cancelled")

    monkeypatch.setattr(threading, "Thread", InterruptedWhileStarting)
    with pytest.raises(KeyboardInterrupt):
        priority.in_background(work, cancel=cancelled.set)
    assert cancelled.is_set() and finished == [True], "cancelled, and waited for until it ended"
