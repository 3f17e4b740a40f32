"""Each kind of database is recognised before anything is changed."""

from __future__ import annotations

import sqlite3

from tests.helpers.sqlite import sha


def test_new_database_is_created_and_fully_migrated(shop):
    code, out = shop.upgrade_json("v1")
    assert code == 0
    assert out["classification"] == "new" and out["outcome"] == "upgraded"
    assert "shopext.0001_initial" in out["applied"] and "pos.0001_initial" in out["applied"]
    assert shop.count("pos_product") == 0
    assert "name" in shop.columns("shopext_widget")


def test_empty_file_is_treated_as_empty(shop):
    shop.db.write_bytes(b"")
    code, out = shop.upgrade_json("v1")
    assert (code, out["classification"]) == (0, "empty")


def test_legacy_database_is_refused_and_untouched(shop):
    conn = sqlite3.connect(shop.db)
    conn.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO products (name) VALUES ('Old till item')")
    conn.commit()
    conn.close()
    before = sha(shop.db)
    code, out = shop.upgrade_json("v1")
    assert code == 2
    assert out["scenario"] == "legacy" and out["title"] == "Incompatible Database Detected"
    assert sha(shop.db) == before


def test_up_to_date_database_takes_the_fast_path(v1_shop):
    code, out = v1_shop.upgrade_json("v1")
    assert (code, out["outcome"]) == (0, "up_to_date")
    assert not list((v1_shop.data_dir / "backups").glob("*.db")), "no backup when nothing is pending"


def test_database_from_a_newer_app_is_refused(v1_shop):
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('shopext', '0099_future', '2030-01-01')")
    conn.commit()
    conn.close()
    before = sha(v1_shop.db)
    code, out = v1_shop.upgrade_json("v2")
    assert code == 2
    assert out["scenario"] == "ahead" and out["unknown"] == ["shopext.0099_future"]
    assert sha(v1_shop.db) == before


def test_edited_applied_migration_is_refused(v1_shop):
    before = sha(v1_shop.db)
    code, out = v1_shop.upgrade_json("edited")
    assert code == 2
    assert out["error"] == "FingerprintMismatchError"
    assert out["mismatches"] == ["shopext.0001_initial"]
    assert sha(v1_shop.db) == before


def test_reformatted_migration_is_not_a_mismatch(v1_shop):
    code, out = v1_shop.upgrade_json("reformatted")
    assert (code, out["outcome"]) == (0, "up_to_date")


def test_accept_migration_records_a_deliberate_change(v1_shop):
    assert v1_shop.upgrade_json("edited")[0] == 2
    proc = v1_shop.manage("accept_migration", "shopext", "0001_initial", "--reason", "widened name", chain="edited")
    assert proc.returncode == 0, proc.stderr
    code, out = v1_shop.upgrade_json("edited")
    assert (code, out["outcome"]) == (0, "up_to_date")
    history = (v1_shop.data_dir / "logs" / "upgrade-history.jsonl").read_text()
    assert "fingerprint_accepted" in history and "widened name" in history


def test_build_that_lost_its_migrations_is_refused(v1_shop):
    before = sha(v1_shop.db)
    code, out = v1_shop.upgrade_json("none")
    assert code == 2
    assert out["error"] == "MigrationsMissingError" and out["missing_apps"] == ["shopext"]
    assert sha(v1_shop.db) == before


def test_plan_lists_pending_and_changes_nothing(v1_shop):
    before = sha(v1_shop.db)
    proc = v1_shop.manage("upgrade_db", "--plan", chain="v2")
    assert proc.returncode == 0
    assert proc.stdout.split() == ["shopext.0002_add_colour", "shopext.0003_add_size"]
    assert sha(v1_shop.db) == before
    assert not list((v1_shop.data_dir / "backups").glob("*.db"))
