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


@pytest.fixture
def linked_shop(v1_shop, tmp_path) -> tuple[Shop, Path]:
    """A shop whose pos_system.db is a link to a file in another folder (a moved disk, a synced folder)."""
    real = tmp_path / "elsewhere" / "shop.sqlite3"
    real.parent.mkdir()
    v1_shop.db.rename(real)
    v1_shop.db.symlink_to(real)
    return v1_shop, real


def test_a_failed_upgrade_of_a_linked_database_puts_the_real_file_back(linked_shop):
    shop, real = linked_shop
    before = dump(real)
    code, out = shop.upgrade_json("fail2")
    assert code == 3, out
    assert shop.db.is_symlink() and shop.db.resolve() == real, "the link still leads to the shop's file"
    assert dump(real) == before, "the real file is as it was, not half-migrated"


def test_upgrading_and_restoring_a_linked_database_act_on_the_real_file(linked_shop):
    shop, real = linked_shop
    before = dump(real)
    code, out = shop.upgrade_json("v2")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert shop.db.is_symlink() and {"colour", "size"} <= set(shop.columns("shopext_widget"))
    proc = shop.manage("restore_db", out["backup"], chain="v2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shop.db.is_symlink() and shop.db.resolve() == real
    assert dump(real) == before, "the backup is back in the real file"


def test_a_file_kept_aside_beside_a_linked_database_is_listed(linked_shop, tmp_path):
    """Kept-aside files lie beside the real file; check_db and the admin's listing find them there."""
    import json as json_module

    from maintenance.db.health import kept_aside_files

    shop, real = linked_shop
    code, out = shop.upgrade_json("fail2")
    assert code == 3, out
    kept = real.with_name(real.name + ".old.20261206-093000")
    kept.write_bytes(real.read_bytes())
    assert kept_aside_files(real) == [kept]
    report = json_module.loads(shop.manage("check_db", "--json", chain="v1").stdout)
    assert report["kept_aside"] == [kept.name]
