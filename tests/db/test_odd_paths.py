"""Any legal folder name works for the data dir and the database: paths are never pasted into URLs.

Windows user names may contain '#' and '%'; a '#' once made the read-only
inspection open another file, so a failing migration ran with no backup.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers.shop import Shop, add_shop_data
from tests.helpers.sqlite import dump

ODD_NAMES = ["till #1", "50% off", "what?", "a&b=c", "café ünï", "sp ace #%?&="]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_data_dir_with_an_odd_name_upgrades_with_a_backup_inside_it(app_env, tmp_path, name):
    data = tmp_path / name / "data"
    data.mkdir(parents=True)
    env = {**app_env, "AURSWIFT_DATA_DIR": str(data)}
    shop = Shop(env, data)
    code, out = shop.upgrade_json("v1")
    assert code == 0, out
    assert shop.db.exists() and shop.db.parent == data
    add_shop_data(shop.db)
    code, out = shop.upgrade_json("v2")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert Path(out["backup"]).parent == data / "backups"
    assert {"colour", "size"} <= set(shop.columns("shopext_widget"))
    assert not list(tmp_path.glob("*.db"))  # nothing created beside the data dir


@pytest.mark.parametrize("name", ["till #1", "50%20off", "q?mode=rw"])
def test_a_database_url_with_encoded_odd_characters_is_backed_up_and_restored(app_env, tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    db = folder / "pos_system.db"
    env = {
        **app_env,
        "AURSWIFT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "sqlite:///" + urllib.parse.quote(str(db)),
    }
    shop = Shop(env, tmp_path / "data")
    shop.db = db
    code, out = shop.upgrade_json("v1")
    assert code == 0, out
    add_shop_data(db)
    before = dump(db)
    code, out = shop.upgrade_json("fail2")
    assert code == 3, out
    assert out["scenario"] == "migration_failed"
    assert dump(db) == before  # restored from a real backup of this very file
    proc = shop.manage("check_db", "--json", chain="v1")
    assert json.loads(proc.stdout)["db_path"] == str(db)
