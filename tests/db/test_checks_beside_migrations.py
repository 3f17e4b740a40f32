"""The pre-upgrade checks read the snapshot the backup copies while the migrations already run.

The run waits for them before it counts as done. Damage they find undoes the
migrations from the backup and ends the run as a damaged database always did
(exit 2, the file byte for byte as before, no backup kept as good); a kill
while they still run leaves the run's marker, so the next start restores the
backup (or finishes the upgrade).
"""

from __future__ import annotations

import json
import sqlite3

from tests.helpers.sqlite import dump, ro_uri, sha


def _history(shop) -> list[dict]:
    path = shop.data_dir / "logs" / "upgrade-history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_killed_while_the_checks_still_run_the_previous_version_gets_its_database_back(v1_shop):
    before = dump(v1_shop.db)
    v1_shop.kill_at("joining_checks", "upgrade_db", chain="v2")  # migrated and verified, the checks not yet joined
    assert (v1_shop.data_dir / "upgrade-in-progress.json").exists()

    code, out = v1_shop.upgrade_json("v1")  # the previous version starts again
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert dump(v1_shop.db) == before
    assert _history(v1_shop)[-1]["outcome"] == "interrupted_run_restored"


def test_killed_while_the_checks_still_run_the_next_start_finishes_the_upgrade(v1_shop):
    v1_shop.kill_at("joining_checks", "upgrade_db", chain="v2")
    code, out = v1_shop.upgrade_json("v2")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert {"colour", "size"} <= set(v1_shop.columns("shopext_widget"))
    assert v1_shop.count("shopext_widget") == 50
    assert not (v1_shop.data_dir / "upgrade-in-progress.json").exists()
    conn = sqlite3.connect(ro_uri(v1_shop.db), uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_damage_found_after_the_migrations_ran_is_refused_and_undone_byte_for_byte(v1_shop):
    """A product pointing at a VAT rate that does not exist: the migrations (on widgets) succeed, the check does not."""
    conn = sqlite3.connect(v1_shop.db)  # foreign keys are not enforced here, as by any other program
    with conn:
        conn.execute("UPDATE pos_product SET vat_rate_id = 999 WHERE id = 1")
    conn.close()
    before = sha(v1_shop.db)

    code, out = v1_shop.upgrade_json("v2")
    assert code == 2, out
    assert out["scenario"] == "corrupt" and out["title"] == "Database Corruption Detected"
    assert "foreign key violation in pos_product" in out["message"] and "it was not changed" in out["message"]
    assert sha(v1_shop.db) == before, "the migrations are undone: the file is exactly as before"
    assert "colour" not in v1_shop.columns("shopext_widget")
    assert not list((v1_shop.data_dir / "backups").glob("*.db")), "a damaged file is never kept as a good backup"
    assert not (v1_shop.data_dir / "upgrade-in-progress.json").exists()
    assert not any(run.get("outcome") in {"upgraded", "failed_restored"} for run in _history(v1_shop))


def test_damage_wins_over_the_failure_it_causes(v1_shop):
    """A widget pointing at a missing category: the check fails, and so does the verify of the rebuilt table."""
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute("UPDATE shopext_widget SET category_id = 999 WHERE id = 1")
    conn.close()
    before = sha(v1_shop.db)

    code, out = v1_shop.upgrade_json("v2")
    assert code == 2, out
    assert out["scenario"] == "corrupt", out
    assert sha(v1_shop.db) == before
    assert not list((v1_shop.data_dir / "backups").glob("*.db"))


def test_a_rollback_journal_database_is_checked_before_migrating(v1_shop):
    """Readers would keep its writers from committing: the checks run beside the copy and end first."""
    conn = sqlite3.connect(v1_shop.db)
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    conn.close()
    code, out = v1_shop.upgrade_json("v2")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert out["applied"] == ["shopext.0002_add_colour", "shopext.0003_add_size"]
    assert v1_shop.count("shopext_widget") == 50


def test_a_rollback_journal_database_with_damage_is_refused_unchanged(v1_shop):
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("PRAGMA journal_mode=DELETE")
    with conn:
        conn.execute("UPDATE pos_product SET vat_rate_id = 999 WHERE id = 1")
    conn.close()
    before = sha(v1_shop.db)
    code, out = v1_shop.upgrade_json("v2")
    assert (code, out["scenario"]) == (2, "corrupt"), out
    assert sha(v1_shop.db) == before
    assert not list((v1_shop.data_dir / "backups").glob("*.db"))
