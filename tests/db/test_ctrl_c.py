"""Ctrl-C in a maintenance command: one line saying what it left, never a traceback, never lost data.

The upgrade pauses at a test hook in its main thread (``AURSWIFT_TEST_PAUSE_AT``)
and gets a real SIGINT there. Stopped while migrating or verifying, it puts
its backup back at once (exit 3); stopped anywhere else it changed nothing yet,
or the next run undoes what it began. Either way the next run upgrades.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from maintenance.db.backups import RESTORE_MARKER
from maintenance.db.markers import UPGRADE_MARKER
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
    assert (runs[-1]["outcome"], runs[-1]["error"]) == ("failed_restored", "Ctrl-C")
    _upgrades_next_time(shop_v1)


@pytest.mark.parametrize("step", ["before_backup", "after_backup"])
def test_ctrl_c_before_migrating_changes_nothing(shop_v1, step):
    before_sha = sha(shop_v1.db)
    proc = shop_v1.interrupt_at(step, "upgrade_db", chain="v2")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Stopped (Ctrl-C): An upgrade stopped part-way is undone" in proc.stderr
    assert "Nothing is lost." in proc.stderr
    assert sha(shop_v1.db) == before_sha
    _upgrades_next_time(shop_v1)


def test_ctrl_c_after_verifying_is_undone_or_finished_by_the_next_run(shop_v1):
    proc = shop_v1.interrupt_at("verify_done", "upgrade_db", chain="v2")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "the next start of AurSwift, or upgrade_db, puts its backup back" in proc.stderr
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
