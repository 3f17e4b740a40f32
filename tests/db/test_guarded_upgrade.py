"""Pending migrations: backup, apply, verify — or restore the database exactly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.sqlite import dump, sha


def test_upgrade_applies_pending_with_a_verified_backup(v1_shop):
    before_rows = v1_shop.count("shopext_widget")
    proc = v1_shop.manage("upgrade_db", "--json", chain="v2")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert out["outcome"] == "upgraded"
    assert out["applied"] == ["shopext.0002_add_colour", "shopext.0003_add_size"]
    assert {"colour", "size"} <= set(v1_shop.columns("shopext_widget"))
    assert v1_shop.count("shopext_widget") == before_rows == 50
    backup = Path(out["backup"])
    sidecar = json.loads(backup.with_suffix(".json").read_text())
    assert sidecar["sha256"] == sha(backup) and sidecar["reason"] == "before_migration"
    assert "shopext.0001_initial" in sidecar["migrations"] and "shopext.0002_add_colour" not in sidecar["migrations"]
    # the backup is the pre-upgrade database
    conn = sqlite3.connect(backup)
    assert "colour" not in [r[1] for r in conn.execute("PRAGMA table_info(shopext_widget)")]
    conn.close()
    assert v1_shop.upgrade_json("v2")[1]["outcome"] == "up_to_date"


def _assert_restored(shop, chain: str, failed_step: str) -> dict:
    before_sha, before_dump = sha(shop.db), dump(shop.db)
    code, out = shop.upgrade_json(chain)
    assert code == 3, out
    assert out["title"] == "Database Migration Failed" and out["failed_step"] == failed_step
    assert Path(out["backup_path"]).exists()
    assert dump(shop.db) == before_dump, "the data must be exactly as before the run"
    assert sha(shop.db) == before_sha
    runs = [json.loads(line) for line in (shop.data_dir / "logs" / "upgrade-history.jsonl").read_text().splitlines()]
    assert runs[-1]["outcome"] == "failed_restored"
    return out


def test_failing_second_of_three_migrations_restores(v1_shop):
    out = _assert_restored(v1_shop, "fail2", "migrate")
    assert "data migration failed on purpose" in out["message"]
    assert "colour" not in v1_shop.columns("shopext_widget")


def test_migration_leaving_a_foreign_key_violation_restores(v1_shop):
    _assert_restored(v1_shop, "fk", "verify")
    assert v1_shop.count("shopext_widget") == 50


def test_non_atomic_migration_failing_half_way_restores(v1_shop):
    _assert_restored(v1_shop, "nonatomic", "migrate")
    assert "colour" not in v1_shop.columns("shopext_widget")


def test_human_output_names_the_backup(v1_shop):
    proc = v1_shop.manage("upgrade_db", chain="fail2")
    assert proc.returncode == 3
    assert "Database Migration Failed" in proc.stderr
    assert "Backup: " in proc.stdout and "aurswift-backup-" in proc.stdout


def test_a_restore_that_fails_exits_4_and_names_the_backup(v1_shop):
    code, out = v1_shop.upgrade_json("spoil")
    assert code == 4, out
    assert out["error"] == "RestoreFailedError" and "aurswift-backup-" in out["backup_path"]
    assert "checksum mismatch" in out["message"]
    human = v1_shop.manage("upgrade_db", chain="spoil")
    assert human.returncode == 4 and "Backup: " in human.stdout


def test_the_configured_paths_are_the_ones_upgraded_or_nothing_is(tmp_path):
    """A configuration naming another file than Django's database is refused before anything is written."""
    from maintenance import exceptions
    from maintenance.config import MaintenanceConfig
    from maintenance.db.upgrade import run_guarded_upgrade

    data_dir = tmp_path / "other data"
    data_dir.mkdir()
    config = MaintenanceConfig(db_path=data_dir / "pos_system.db", data_dir=data_dir, app_version="0.1.0")
    with pytest.raises(exceptions.UpgradeRefused) as refused:
        run_guarded_upgrade(config=config, reason="command")
    assert refused.value.exit_code == 2 and "Nothing was changed" in refused.value.message
    assert not config.db_path.exists()
    assert not (data_dir / "backups").exists()


@pytest.mark.parametrize("code", ["0", "7", "giving up"])
def test_a_migration_calling_sys_exit_is_a_failed_step_and_restores(v1_shop, code):
    """sys.exit() in a migration is no success (exit 0) and no way around the restore (exit 3, one JSON object)."""
    v1_shop.env["SHOPEXT_EXIT_CODE"] = code
    out = _assert_restored(v1_shop, "g_exit", "migrate")
    assert "sys.exit(" in out["message"] and "restored" in out["message"]
    assert "colour" not in v1_shop.columns("shopext_widget"), "the migration before it is undone too"
    assert not (v1_shop.data_dir / "upgrade-in-progress.json").exists()


def test_a_migration_that_needs_the_database_to_itself_is_applied(v1_shop):
    """PRAGMA journal_mode cannot change while the checks beside the migrations read: the run goes again, alone."""
    rows = v1_shop.count("shopext_widget")
    code, out = v1_shop.upgrade_json("g_journal")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert out["applied"] == ["shopext.0002_rollback_journal", "shopext.0003_add_colour"]
    assert "colour" in v1_shop.columns("shopext_widget") and v1_shop.count("shopext_widget") == rows
    runs = [json.loads(line) for line in (v1_shop.data_dir / "logs" / "upgrade-history.jsonl").read_text().splitlines()]
    assert runs[-1]["outcome"] == "upgraded" and "failed_restored" not in [r["outcome"] for r in runs]
