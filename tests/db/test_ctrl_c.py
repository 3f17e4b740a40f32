"""Ctrl-C in a maintenance command: one line saying what it left, never a traceback, never lost data.

The upgrade pauses at a test hook in its main thread (``AURSWIFT_TEST_PAUSE_AT``)
and gets a real SIGINT there. Stopped while migrating or verifying, it puts
its backup back at once (exit 3); stopped anywhere else it changed nothing yet,
or the next run undoes what it began. Either way the next run upgrades.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from aurswift.startup.state import known_failed_upgrade
from maintenance.config import MaintenanceConfig
from maintenance.db import backups, interrupts, priority, upgrade
from maintenance.db.backups import RESTORE_MARKER
from maintenance.db.markers import UPGRADE_MARKER
from maintenance.db.sqlite_tools import open_readonly
from tests.helpers.sqlite import dump, sha


@pytest.fixture
def shop_v1(shop):
    assert shop.upgrade_json("v1")[0] == 0
    conn = sqlite3.connect(shop.db)
    with conn:
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('Drinks', 0, '#000000')")
        conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('Till roll', 1)")
    conn.close()
    return shop


def _upgrades_next_time(shop) -> None:
    code, out = shop.upgrade_json("v2")
    assert code == 0 and out["outcome"] == "upgraded", out
    assert {"colour", "size"} <= set(shop.columns("shopext_widget"))
    assert shop.count("shopext_widget") == 1
    assert not list((shop.data_dir / "backups").glob("*.partial"))


@pytest.mark.parametrize(
    ("step", "doing"), [("during_migration", "applying migrations"), ("joining_checks", "verifying the result")]
)
def test_ctrl_c_while_migrating_puts_the_backup_back_at_once(shop_v1, step, doing):
    before_sha, before_dump = sha(shop_v1.db), dump(shop_v1.db)
    proc = shop_v1.interrupt_at(step, "upgrade_db", chain="v2")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"The database upgrade was stopped while {doing} (Ctrl-C)." in proc.stderr
    assert "Your data was restored from the backup made just before" in proc.stderr
    assert "Backup: " in proc.stdout
    assert dump(shop_v1.db) == before_dump and sha(shop_v1.db) == before_sha
    assert not (shop_v1.db.parent / UPGRADE_MARKER).exists()
    runs = [json.loads(line) for line in (shop_v1.data_dir / "logs" / "upgrade-history.jsonl").read_text().splitlines()]
    assert (runs[-1]["outcome"], runs[-1]["error"]) == ("stopped_restored", "Ctrl-C")
    # a stop is not a failure: the app's next start runs the upgrade again by itself
    assert known_failed_upgrade(shop_v1.data_dir, runs[-1]["to_version"]) is None
    _upgrades_next_time(shop_v1)


@pytest.mark.parametrize("step", ["before_backup", "after_backup"])
def test_ctrl_c_before_migrating_changes_nothing(shop_v1, step):
    before_sha = sha(shop_v1.db)
    backups_before = sorted((shop_v1.data_dir / "backups").glob("*"))
    proc = shop_v1.interrupt_at(step, "upgrade_db", chain="v2")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Stopped (Ctrl-C): The upgrade was stopped before it began migrating. Your data was not changed." in (
        proc.stderr
    )
    assert sha(shop_v1.db) == before_sha
    assert sorted((shop_v1.data_dir / "backups").glob("*")) == backups_before  # its backup is not kept either
    assert not (shop_v1.db.parent / UPGRADE_MARKER).exists()
    _upgrades_next_time(shop_v1)


def test_ctrl_c_once_verified_still_puts_the_backup_back_until_the_run_is_recorded(shop_v1):
    """At the last pause point, verified but not yet recorded: exit 3 and the database as before, like any stop."""
    before = dump(shop_v1.db)
    proc = shop_v1.interrupt_at("verify_done", "upgrade_db", chain="v2")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "The database upgrade was stopped while verifying the result (Ctrl-C)." in proc.stderr
    assert dump(shop_v1.db) == before
    assert not (shop_v1.db.parent / UPGRADE_MARKER).exists()
    _upgrades_next_time(shop_v1)


def test_ctrl_c_with_json_prints_one_object(shop_v1):
    proc = shop_v1.interrupt_at("before_backup", "upgrade_db", "--json", chain="v2")
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    assert (out["error"], out["title"], out["exit_code"]) == ("StoppedError", "Stopped (Ctrl-C)", 2)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "step", ["restore_staged", "restore_point_keeping", "restore_point_linked", "restore_swapping"]
)
def test_ctrl_c_during_a_restore_leaves_the_database_as_it_was_or_restored(shop_v1, step):
    backup = shop_v1.manage("backup_db").stdout.strip().splitlines()[-1]
    conn = sqlite3.connect(shop_v1.db)
    with conn:
        conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('Sold after the backup', 1)")
    conn.close()
    before, restored = sha(shop_v1.db), json.loads(Path(backup).with_suffix(".json").read_text())["sha256"]
    proc = shop_v1.interrupt_at(step, "restore_db", backup)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "Stopped (Ctrl-C): The database is either as it was or restored from the backup" in proc.stderr
    # every pause point is before the file is replaced: the restore is undone, the later sale kept
    assert sha(shop_v1.db) == before != restored
    assert shop_v1.count("shopext_widget") == 2
    assert not (shop_v1.db.parent / RESTORE_MARKER).exists()
    assert shop_v1.manage("restore_db", backup).returncode == 0 and sha(shop_v1.db) == restored


# --- in one process: Ctrl-C (SIGINT to the main thread) while waiting on work in other threads ----------
def _press_ctrl_c_in(seconds: float) -> threading.Timer:
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "SIGINT reaches Python's main thread only"
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
"""About a minute of SQLite work unless interrupted: a check that is still running when Ctrl-C comes."""


def test_ctrl_c_while_waiting_for_the_pre_upgrade_checks_stops_them(live_db, monkeypatch):
    """Ctrl-C while waiting in result(): the checks are interrupted, not waited for; abandon() after is a no-op."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "SIGINT reaches Python's main thread only"
    waiting = threading.Event()

    def still_checking(conn, *, structure, foreign_keys):
        if structure:
            waiting.wait(10)
            signal.pthread_kill(main, signal.SIGINT)
        conn.execute(ENDLESS).fetchall()

    monkeypatch.setattr(upgrade, "check_connection", still_checking)
    checks = upgrade.SnapshotChecks.start(live_db)
    assert checks is not None

    def wait_for_the_checks() -> None:
        waiting.set()
        checks.result()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        wait_for_the_checks()
    checks.abandon()  # the upgrade's handler calls it again: nothing to do, no error
    assert time.monotonic() - started < 20, "the checks were interrupted, not waited for"
    conn = sqlite3.connect(live_db)  # the snapshot is released: a checkpoint can complete
    assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    conn.close()


def test_a_stopped_run_does_not_keep_a_backup_saved_as_it_was_stopped(live_db, tmp_path):
    """Ctrl-C when the upgrade's backup is already saved: the run stops there and keeps no backup of its own."""
    main = threading.main_thread().ident
    assert main is not None

    def press_when_saved(step) -> None:
        if step.message.startswith(backups.SAVED):
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.3)

    with pytest.raises(KeyboardInterrupt):
        backups.create_backup_in_background(
            live_db, tmp_path / "backups", reason="before_migration", progress=press_when_saved, keep_if_stopped=False
        )
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_second_ctrl_c_still_waits_for_the_work_to_stop():
    stopping = threading.Event()
    ended: list[str] = []

    main = threading.main_thread().ident
    assert main is not None

    def work() -> None:
        stopping.wait(10)  # the first Ctrl-C cancelled the work
        time.sleep(0.1)
        signal.pthread_kill(main, signal.SIGINT)  # a second one while the caller waits for it to stop
        time.sleep(0.3)  # its next step comes a little later, and sees the cancel
        ended.append("stopped")
        raise RuntimeError("cancelled")

    _press_ctrl_c_in(0.05)
    with pytest.raises(KeyboardInterrupt):
        priority.in_background(work, cancel=stopping.set)
    assert ended == ["stopped"], "the caller returned before its work had stopped"


def test_a_step_that_must_end_as_a_whole_finishes_despite_ctrl_c():
    done: list[str] = []
    with interrupts.finishing():
        _press_ctrl_c_in(0.0).join()
        time.sleep(0.1)
        done.append("finished")
    assert done == ["finished"]
    _press_ctrl_c_in(0.1)
    with pytest.raises(KeyboardInterrupt):  # outside it, Ctrl-C works as before
        time.sleep(2)


def test_ctrl_c_while_the_checks_beside_an_unpinned_backup_run_stops_them_and_keeps_no_backup(
    live_db, tmp_path, monkeypatch
):
    """The path for a database whose snapshot cannot be pinned: the backup is saved, the checks still run."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "SIGINT reaches Python's main thread only"
    backups_dir = tmp_path / "data" / "backups"

    def endless_check(db_path, *, mmap, stopper):
        deadline = time.monotonic() + 30
        while not list(backups_dir.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.01)  # the backup is saved: the run now waits for this check alone
        signal.pthread_kill(main, signal.SIGINT)
        with open_readonly(db_path) as conn:
            stopper.opened(conn)
            conn.execute(ENDLESS).fetchall()

    monkeypatch.setattr(upgrade, "check_in_parallel", endless_check)
    config = MaintenanceConfig(db_path=live_db, data_dir=tmp_path / "data", app_version="0.1.0")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        upgrade._checked_backup(config, None)
    assert time.monotonic() - started < 20, "the check was stopped, not waited for"
    assert list(backups_dir.iterdir()) == []
