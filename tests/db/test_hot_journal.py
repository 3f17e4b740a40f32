"""A hot rollback -journal beside the database is rolled back before anything classifies it.

Left by another SQLite writer that died mid-transaction, or brought along
with a database from elsewhere: a read-only open cannot roll it back, so the
file looked damaged, and "Backup & Start Fresh" then kept a torn copy.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

from maintenance.db.health import kept_aside_files
from tests.helpers.sqlite import dump, ro_uri


def _die_mid_transaction(db) -> None:
    """Rewrite every row in a transaction big enough to spill into the file, then die before committing."""
    code = textwrap.dedent(
        f"""
        import os, sqlite3
        c = sqlite3.connect({str(db)!r}, isolation_level=None)
        c.execute("PRAGMA cache_size=5")
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE shopext_widget SET name = name || randomblob(3000)")
        c.execute("UPDATE pos_product SET price_minor = price_minor * 1000")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _in_rollback_mode(db) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()


def test_upgrade_rolls_a_hot_journal_back_and_loses_nothing(v1_shop):
    _in_rollback_mode(v1_shop.db)
    before = dump(v1_shop.db)
    _die_mid_transaction(v1_shop.db)
    journal = v1_shop.db.with_name("pos_system.db-journal")
    assert journal.stat().st_size > 0

    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    assert out["outcome"] == "upgraded"
    conn = sqlite3.connect(ro_uri(v1_shop.db), uri=True)
    prices = sorted(r[0] for r in conn.execute("SELECT price_minor FROM pos_product"))
    conn.close()
    assert prices == list(range(100, 150))  # the uncommitted change is gone, the committed data intact
    assert len([line for line in before if 'INSERT INTO "shopext_widget"' in line]) == 50
    assert v1_shop.count("shopext_widget") == 50


def test_start_fresh_keeps_a_consistent_copy_when_a_hot_journal_is_there(v1_shop):
    """Keep-aside rolls the journal back first (or moves it with the file): the kept copy is never torn."""
    import os

    _in_rollback_mode(v1_shop.db)
    before = dump(v1_shop.db)
    _die_mid_transaction(v1_shop.db)
    env = v1_shop.env_for("v1")
    code = (
        "import os, sys; sys.path.insert(0, os.getcwd()); os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'aurswift.settings'); import django; django.setup(); "
        "from maintenance.db import recovery; from maintenance.config import MaintenanceConfig; "
        "recovery.backup_and_start_fresh(MaintenanceConfig.from_settings())"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=os.getcwd(), check=True)
    kept = kept_aside_files(v1_shop.db)
    assert len(kept) == 1
    assert dump(kept[0]) == before
    assert not v1_shop.db.with_name("pos_system.db-journal").exists()
