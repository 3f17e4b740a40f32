"""One writer at a time: a terminal command beside the running app, two upgrades at once, stale markers.

Each case once lost paid sales: a failing terminal upgrade restored its backup
under a selling till, and a killed one's marker made the next start restore
that old backup over everything sold since.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request

import psutil
import pytest

from maintenance.db.health import kept_aside_files
from tests.helpers.app import REPO_ROOT, start_headless
from tests.helpers.sqlite import dump, ro_uri, sha


def _pause(shop, chain: str, step: str, *args: str) -> subprocess.Popen:
    """Start ``upgrade_db`` and return it paused at ``step`` (it never goes on by itself)."""
    env = shop.env_for(chain)
    env["AURSWIFT_TEST_PAUSE_AT"] = step
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), "upgrade_db", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:  # type: ignore[union-attr]
        if line.startswith(f"AURSWIFT PAUSED AT {step}"):
            return proc
    raise AssertionError(f"never paused at {step}: exit {proc.wait()}")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _sales(db) -> int:
    conn = sqlite3.connect(ro_uri(db), uri=True)
    try:
        return conn.execute("SELECT count(*) FROM shopext_widget").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def running_app(v1_shop):
    """Yield the v1 shop served by a headless app (which holds the maintenance lock)."""
    app = start_headless(v1_shop.env_for("v1"))  # it holds the lock from before it prints its URL
    yield app
    app.stop()


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade_db", "--json"),
        ("restore_db", "--json", "BACKUP"),
        ("accept_migration", "--json", "pos", "0001_initial", "--reason", "test"),
    ],
    ids=["upgrade_db", "restore_db", "accept_migration"],
)
def test_a_writing_command_beside_the_running_app_is_refused_naming_it(v1_shop, running_app, args):
    backup = v1_shop.manage("backup_db", chain="v2")  # a consistent read: allowed beside the app
    assert backup.returncode == 0, backup.stderr
    args = tuple(backup.stdout.strip() if a == "BACKUP" else a for a in args)
    before = dump(v1_shop.db)

    proc = v1_shop.manage(*args, chain="v2")
    assert proc.returncode == 2, proc.stderr
    out = json.loads(proc.stdout)
    assert out["holder_pid"] == running_app.proc.pid
    assert f"AurSwift is running (process {running_app.proc.pid}): quit it first" in out["message"]
    assert "Traceback" not in proc.stderr
    assert dump(v1_shop.db) == before
    assert "colour" not in v1_shop.columns("shopext_widget")
    # the till still answers
    with urllib.request.urlopen(running_app.base + "/static/pos/till.css", timeout=5) as response:
        assert response.status == 200


def test_check_db_runs_beside_the_app(v1_shop, running_app):
    proc = v1_shop.manage("check_db", chain="v1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Healthy: yes" in proc.stdout


def test_a_second_upgrade_is_refused_while_the_first_runs(v1_shop):
    first = _pause(v1_shop, "v2", "after_backup")
    try:
        code, out = v1_shop.upgrade_json("v2")
        assert code == 2, out
        assert out["holder_pid"] == first.pid
        assert f"(process {first.pid})" in out["message"]
        # the first run's marker was not taken for a crash: nothing was restored under it
        assert not json.loads((v1_shop.data_dir / "logs" / "upgrade-history.jsonl").read_text().splitlines()[-1])[
            "outcome"
        ].startswith("interrupted")
    finally:
        _kill(first)
    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    assert {"colour", "size"} <= set(v1_shop.columns("shopext_widget"))
    assert _sales(v1_shop.db) == 50


def test_writes_after_an_interrupted_upgrade_are_kept_aside_never_overwritten(v1_shop):
    proc = _pause(v1_shop, "v2", "during_migration")
    _kill(proc)
    # Another program writes to the half-upgraded file after the crash (it does not know our lock).
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('sold after the crash', 9, '#fff')")
    conn.close()
    written = dump(v1_shop.db)

    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    kept = kept_aside_files(v1_shop.db)
    assert len(kept) == 1, kept
    assert dump(kept[0]) == written  # the later write survives, byte for byte in content
    history = [json.loads(line) for line in (v1_shop.data_dir / "logs" / "upgrade-history.jsonl").open()]
    assert any(h.get("kept_aside") == kept[0].name for h in history)


def test_a_write_left_only_in_the_log_after_an_interrupted_upgrade_is_kept_aside_too(v1_shop):
    """The other program dies before it checkpoints: its commit is only a frame of the log, and still counts."""
    _kill(_pause(v1_shop, "v2", "during_migration"))
    writer = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "conn.execute(\"INSERT INTO pos_category (name, sort_order, colour) VALUES ('sold after', 9, '#fff')\")\n"
        "conn.commit()\n"
        "os._exit(0)\n"  # no close, so no checkpoint: the sale is in the log only
    )
    subprocess.run([sys.executable, "-c", writer, str(v1_shop.db)], check=True)
    written = dump(v1_shop.db)

    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    (kept,) = kept_aside_files(v1_shop.db)
    assert dump(kept) == written


def test_a_write_after_an_interrupted_upgrade_is_kept_even_where_the_log_started_over(v1_shop):
    """The till left a large log; the upgrade's first migration started the log over, leaving an old tail.

    Another program's commit then lands inside that tail, not past the log's size: it still counts.
    """
    writer = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "conn.executemany('INSERT INTO pos_category (name, sort_order, colour) VALUES (?, 1, \\'#000\\')',"
        " [(sys.argv[2] + str(i),) for i in range(int(sys.argv[3]))])\n"
        "conn.commit()\n"
        "os._exit(0)\n"  # no close, no checkpoint: the log stays
    )
    subprocess.run([sys.executable, "-c", writer, str(v1_shop.db), "w" * 500, "3000"], check=True)
    _kill(_pause(v1_shop, "v2", "during_migration"))
    subprocess.run([sys.executable, "-c", writer, str(v1_shop.db), "sold after", "1"], check=True)
    written = dump(v1_shop.db)

    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    (kept,) = kept_aside_files(v1_shop.db)
    assert dump(kept) == written, "the sale made after the crash survives"


def test_an_interrupted_upgrade_with_no_later_write_is_restored_and_finished(v1_shop):
    before = dump(v1_shop.db)
    _kill(_pause(v1_shop, "v2", "during_migration"))
    code, out = v1_shop.upgrade_json("v1")  # the previous version starts again
    assert code == 0, out
    assert dump(v1_shop.db) == before
    assert not list(v1_shop.data_dir.glob("pos_system.db.old.*"))


def test_a_live_owner_is_never_taken_for_a_crash(v1_shop):
    """A marker whose owner still runs is not "interrupted", even when the lock is free."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        marker = {
            "backup": str(v1_shop.data_dir / "backups" / "x.db"),
            "owner": {"pid": sleeper.pid, "create_time": psutil.Process(sleeper.pid).create_time()},
        }
        (v1_shop.data_dir / "upgrade-in-progress.json").write_text(json.dumps(marker))
        before = sha(v1_shop.db)
        code, out = v1_shop.upgrade_json("v2")
        assert code == 2, out
        assert f"process {sleeper.pid}" in out["message"]
        assert sha(v1_shop.db) == before
    finally:
        sleeper.kill()
        sleeper.wait()


def test_json_is_one_object_whatever_a_migration_prints(v1_shop):
    proc = v1_shop.manage("upgrade_db", "--json", chain="g_noisy")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # exactly one object: nothing else on stdout
    assert out["outcome"] == "upgraded" and out["applied"] == ["shopext.0002_noisy"]
    assert "a migration that talks on stdout" in proc.stderr
    assert "a child process prints too" in proc.stderr


def test_an_explicit_restore_wins_over_a_stale_marker(v1_shop):
    """The shop restored a backup on purpose after a crash: the next start must not undo that choice."""
    made = v1_shop.manage("backup_db")
    assert made.returncode == 0, made.stderr
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute("DELETE FROM shopext_widget")
    conn.close()
    _kill(_pause(v1_shop, "v2", "during_migration"))
    assert (v1_shop.data_dir / "upgrade-in-progress.json").exists()

    proc = v1_shop.manage("restore_db", made.stdout.strip(), chain="v1")
    assert proc.returncode == 0, proc.stderr
    code, out = v1_shop.upgrade_json("v1")
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert _sales(v1_shop.db) == 50  # the chosen backup, not the interrupted run's


def test_inside_one_process_a_second_thread_is_refused_while_a_step_runs(tmp_path):
    """The app holds the file lock for its life; its start-up thread and a button's thread still take turns."""
    import threading

    from maintenance import exceptions
    from maintenance.db import writer_lock

    inside, leave = threading.Event(), threading.Event()

    def first_step() -> None:
        with writer_lock.held(tmp_path), writer_lock.held(tmp_path):  # one thread may nest (restore, upgrade)
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=first_step)
    worker.start()
    try:
        assert inside.wait(10)
        refused = pytest.raises(exceptions.DatabaseLockedError, match="already running a maintenance step")
        with refused, writer_lock.held(tmp_path):
            pass
    finally:
        leave.set()
        worker.join(10)
    with writer_lock.held(tmp_path):  # once the first step is over, the next one runs
        assert writer_lock.holds(tmp_path)
    assert not writer_lock.holds(tmp_path)


def test_check_db_does_not_call_a_database_healthy_while_an_upgrade_is_running_or_was_cut_off(v1_shop):
    paused = _pause(v1_shop, "v2", "during_migration")
    try:
        running = v1_shop.manage("check_db", chain="v2")
        assert running.returncode == 1 and "Healthy: no" in running.stdout
        assert f"A database upgrade is running in process {paused.pid}" in running.stdout
    finally:
        _kill(paused)
    after = v1_shop.manage("check_db", "--json", chain="v2")
    assert after.returncode == 1
    report = json.loads(after.stdout)
    assert not report["healthy"] and "the next start of AurSwift puts back the backup" in report["problem"]
    assert v1_shop.upgrade_json("v2")[0] == 0  # that start: restored, then upgraded
    assert v1_shop.manage("check_db", chain="v2").returncode == 0


def test_a_health_check_in_the_app_beside_its_own_running_step_says_it_runs_not_interrupted(live_db):
    import threading

    from maintenance.db import writer_lock
    from maintenance.db.health import check_health

    inside, leave = threading.Event(), threading.Event()

    def step() -> None:
        with writer_lock.held(live_db.parent):
            (live_db.parent / "restore-in-progress.json").write_text("{}")
            inside.set()
            leave.wait(10)
            (live_db.parent / "restore-in-progress.json").unlink()

    worker = threading.Thread(target=step)
    worker.start()
    try:
        assert inside.wait(10)
        report = check_health(live_db, live_db.parent, integrity=False)
        assert report.problem.startswith("AurSwift is running a maintenance step") and not report.healthy
    finally:
        leave.set()
        worker.join(10)
    assert check_health(live_db, live_db.parent, integrity=False).problem == ""
