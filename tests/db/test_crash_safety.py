"""A guarded upgrade killed with SIGKILL at any step never loses the database.

Each test pauses the upgrade at one step (``AURSWIFT_TEST_PAUSE_AT``), kills
it there, and runs the upgrade again: the database must end either exactly as
before or fully upgraded, with every row still there.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.helpers.sqlite import dump


@pytest.fixture
def shop_with_sales(shop):
    assert shop.upgrade_json("v1")[0] == 0
    conn = sqlite3.connect(shop.db)
    with conn:
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('Drinks', 0, '#000000')")
        # ~10 MB, so the backup copy reports progress part-way (4 MB chunks)
        conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('Till roll', 1)")
        conn.execute("CREATE TABLE IF NOT EXISTS ballast (id INTEGER PRIMARY KEY, blob TEXT)")
        conn.executemany("INSERT INTO ballast (blob) VALUES (?)", [("b" * 2000,) for _ in range(5000)])
    conn.close()
    return shop


def _assert_intact(shop) -> None:
    conn = sqlite3.connect(f"file:{shop.db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM ballast").fetchone()[0] == 5000
        assert conn.execute("SELECT count(*) FROM shopext_widget").fetchone()[0] == 1
    finally:
        conn.close()


@pytest.mark.parametrize("step", ["before_backup", "during_backup", "after_backup", "during_migration", "verify_done"])
def test_killed_upgrade_finishes_on_the_next_run(shop_with_sales, step):
    shop_with_sales.kill_at(step, "upgrade_db", chain="v2")
    _assert_intact(shop_with_sales)  # openable and complete even right after the kill
    code, out = shop_with_sales.upgrade_json("v2")
    assert code == 0, out
    assert {"colour", "size"} <= set(shop_with_sales.columns("shopext_widget"))
    _assert_intact(shop_with_sales)
    assert not list((shop_with_sales.data_dir / "backups").glob("*.partial"))


@pytest.mark.parametrize("step", ["during_restore", "restore_swapping"])
def test_killed_restore_is_completed_on_the_next_run(shop_with_sales, step):
    before = dump(shop_with_sales.db)
    shop_with_sales.kill_at(step, "upgrade_db", chain="fail2")
    code, out = shop_with_sales.upgrade_json("fail2")  # restores the interrupted run, retries, fails, restores
    assert code == 3, out
    assert dump(shop_with_sales.db) == before
    code, out = shop_with_sales.upgrade_json("v1")
    assert (code, out["outcome"]) == (0, "up_to_date")
    _assert_intact(shop_with_sales)


def test_killed_inside_a_large_migration_transaction_restores_the_database_as_it_was(shop_with_sales):
    """A kill while a migration's uncommitted pages fill the log: the next start puts the backup back, and says so.

    The log changed, so the file as it was is kept aside too (it cannot be told cheaply from another program's
    write); the message says both causes, and nothing is lost.
    """
    import json

    before = dump(shop_with_sales.db)
    shop_with_sales.kill_at("inside_migration", "upgrade_db", chain="g_spill")
    assert (shop_with_sales.data_dir / "pos_system.db-wal").stat().st_size > 4 * 1024 * 1024
    proc = shop_with_sales.manage("upgrade_db", chain="v1")  # the next start of the version before
    assert proc.returncode == 0, proc.stderr
    assert "by its own unfinished step or by another program" in proc.stderr
    assert dump(shop_with_sales.db) == before
    history = shop_with_sales.data_dir / "logs" / "upgrade-history.jsonl"
    last = [json.loads(line) for line in history.read_text().splitlines()][-1]
    assert last["outcome"] == "interrupted_run_restored"
