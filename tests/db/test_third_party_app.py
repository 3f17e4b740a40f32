"""A real third-party app with a long migration history (django-allauth) under the guarded upgrade.

allauth needs its middleware and django.contrib.sites, so the subprocesses use
tests/db/fixture_apps/thirdparty/settings.py (AurSwift's settings plus those).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import app

pytest.importorskip("allauth")

SETTINGS = "tests.db.fixture_apps.thirdparty.settings"
LEDGER = "aurswift_migration_fingerprints"


def manage(env: dict[str, str], data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**env, "AURSWIFT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": SETTINGS}
    return app.manage(*args, env=env, timeout=300)


def upgrade(env: dict[str, str], data_dir: Path) -> tuple[int, dict]:
    proc = manage(env, data_dir, "upgrade_db", "--json")
    return proc.returncode, json.loads(proc.stdout)


def schema_and_rows(db: Path) -> tuple[list[tuple], list[tuple]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name != ? ORDER BY type, name", (LEDGER,)
        ).fetchall()
        rows = conn.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()
        return schema, rows
    finally:
        conn.close()


def ledger(db: Path) -> dict[tuple[str, str], str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {(a, n): v for a, n, v in conn.execute(f"SELECT app, name, sha256 FROM {LEDGER}")}
    finally:
        conn.close()


@pytest.mark.slow
def test_upgrade_with_allauth_equals_plain_migrate(shop, tmp_path):
    # A shop made by this app without allauth, with some data in it.
    code, out = shop.upgrade_json(chain=None)
    assert code == 0, out
    conn = sqlite3.connect(shop.db)
    with conn:
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('Drinks', 0, '#000000')")
    conn.close()
    guarded, plain = tmp_path / "guarded", tmp_path / "plain"
    shutil.copytree(shop.data_dir, guarded)
    shutil.copytree(shop.data_dir, plain)

    code, out = upgrade(shop.env, guarded)
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert "account.0009_emailaddress_unique_primary_email" in out["applied"]
    assert "socialaccount.0006_alter_socialaccount_extra_data" in out["applied"]
    proc = manage(shop.env, plain, "migrate", "--no-input")
    assert proc.returncode == 0, proc.stderr

    assert schema_and_rows(guarded / "pos_system.db") == schema_and_rows(plain / "pos_system.db")
    fingerprints = ledger(guarded / "pos_system.db")
    assert fingerprints[("account", "0006_emailaddress_lower")].startswith("v2:")  # a RunPython of allauth's

    code, out = upgrade(shop.env, guarded)
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    # The database plain migrate made: its fingerprints are adopted, nothing is refused.
    code, out = upgrade(shop.env, plain)
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert ledger(plain / "pos_system.db") == fingerprints


@pytest.mark.slow
def test_third_party_release_changing_an_applied_migration_is_not_refused(shop, tmp_path):
    """A Django/allauth release is not ours to refuse: its changed fingerprint is re-recorded."""
    data = tmp_path / "shop"
    shutil.copytree(shop.data_dir, data)
    code, out = upgrade(shop.env, data)
    assert code == 0, out
    db = data / "pos_system.db"
    real = ledger(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            f"UPDATE {LEDGER} SET sha256 = ? WHERE (app, name) IN (VALUES ('account', '0006_emailaddress_lower'),"
            " ('auth', '0011_update_proxy_permissions'))",
            ("v2:" + "0" * 64,),
        )
    conn.close()
    code, out = upgrade(shop.env, data)
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert ledger(db) == real
    # ...while the same for one of AurSwift's own migrations is a refusal.
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(f"UPDATE {LEDGER} SET sha256 = ? WHERE app = 'pos' AND name = '0001_initial'", ("v2:" + "0" * 64,))
    conn.close()
    code, out = upgrade(shop.env, data)
    assert code == 2 and out["error"] == "FingerprintMismatchError" and out["mismatches"] == ["pos.0001_initial"]
