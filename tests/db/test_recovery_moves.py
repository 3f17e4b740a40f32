"""Recovery moves are crash-safe as a group: SIGKILL after any single move, and the next start finishes it.

"Backup & Start Fresh" and "Try Repair" move a database and its -wal/-shm.
A kill between moving the -wal and moving the database once left the live
database without its write-ahead log (sales only in an orphan -wal), and a
kill inside a repair made the next start create an empty shop.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from maintenance.db.health import kept_aside_files
from tests.helpers.app import REPO_ROOT
from tests.helpers.sqlite import ro_uri

SALES_IN_WAL = 120

ACTION = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    import django
    django.setup()
    from maintenance.db import recovery
    from maintenance.config import MaintenanceConfig
    config = MaintenanceConfig.from_settings()
    if sys.argv[1] == "start_fresh":
        recovery.backup_and_start_fresh(config)
    else:
        report = recovery.try_repair(config)
        assert report.ok, report.message
    print("finished", flush=True)
    """
)


def _sales_only_in_the_wal(db) -> None:
    """Commit sales that stay in the -wal (the writer dies before any checkpoint)."""
    code = textwrap.dedent(
        f"""
        import os, sqlite3
        c = sqlite3.connect({str(db)!r})
        c.execute("PRAGMA wal_autocheckpoint=0")
        with c:
            c.executemany("INSERT INTO shopext_widget (name, category_id) VALUES (?, 1)",
                          [("sale %d" % i,) for i in range({SALES_IN_WAL})])
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _widgets(db) -> int:
    conn = sqlite3.connect(ro_uri(db), uri=True)
    try:
        return conn.execute("SELECT count(*) FROM shopext_widget").fetchone()[0]
    finally:
        conn.close()


def _run_and_kill(shop, action: str, step: str) -> None:
    env = shop.env_for("v1")
    env["AURSWIFT_TEST_PAUSE_AT"] = step
    proc = subprocess.Popen(
        [sys.executable, "-c", ACTION.format(root=str(REPO_ROOT)), action],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:  # type: ignore[union-attr]
        if line.startswith(f"AURSWIFT PAUSED AT {step}"):
            proc.send_signal(signal.SIGKILL)
            break
    else:
        pytest.fail(f"{action} never reached {step}: exit {proc.wait()}")
    proc.wait(timeout=30)


@pytest.fixture
def shop_with_wal(v1_shop):
    _sales_only_in_the_wal(v1_shop.db)
    wal = v1_shop.db.with_name("pos_system.db-wal")
    assert wal.stat().st_size > 0
    assert _widgets(v1_shop.db) == 50 + SALES_IN_WAL
    return v1_shop


@pytest.mark.parametrize("index", [0, 1, 2])
def test_start_fresh_killed_after_any_move_keeps_every_sale_with_its_database(shop_with_wal, index):
    _run_and_kill(shop_with_wal, "start_fresh", f"keep_aside_move_{index}")

    code, out = shop_with_wal.upgrade_json("v1")  # the next start
    assert code == 0, out
    kept = kept_aside_files(shop_with_wal.db)
    assert len(kept) == 1
    assert _widgets(kept[0]) == 50 + SALES_IN_WAL  # the kept file has its -wal: nothing orphaned
    assert not (shop_with_wal.data_dir / "recovery-intent.json").exists()
    assert _widgets(shop_with_wal.db) == 0  # the fresh database


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_repair_killed_after_any_move_never_ends_in_an_empty_shop(shop_with_wal, index):
    _run_and_kill(shop_with_wal, "repair", f"repair_move_{index}")

    code, out = shop_with_wal.upgrade_json("v1")
    assert code == 0, out
    assert _widgets(shop_with_wal.db) == 50 + SALES_IN_WAL  # the salvaged database is live
    kept = kept_aside_files(shop_with_wal.db)
    assert len(kept) == 1 and _widgets(kept[0]) == 50 + SALES_IN_WAL
    leftovers = [p.name for p in shop_with_wal.data_dir.iterdir() if "repair" in p.name]
    assert leftovers == []
