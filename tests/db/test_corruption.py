"""Damaged database files are detected, reported and never modified."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.shop import add_shop_data
from tests.helpers.sqlite import sha


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "header":
        data[0:16] = b"NOT A DATABASE!!"
    elif how == "truncated":
        data = data[: len(data) // 3]
    elif how == "pages":
        page = 4096
        for n in range(3, len(data) // page, 4):
            data[n * page + 100 : n * page + 600] = os.urandom(500)
    elif how == "not_a_database":
        data = bytearray(b"This is a shopping list, not a database.\n" * 200)
    path.write_bytes(bytes(data))


@pytest.fixture
def big_v1_shop(shop):
    assert shop.upgrade_json("v1")[0] == 0
    add_shop_data(shop.db, widgets=3000)
    return shop


@pytest.mark.parametrize("how", ["header", "truncated", "pages", "not_a_database"])
def test_damaged_database_is_refused_and_left_as_it_was(big_v1_shop, how):
    _damage(big_v1_shop.db, how)
    before = sha(big_v1_shop.db)

    code, out = big_v1_shop.upgrade_json("v2")  # pending migrations: the integrity check runs
    assert code == 2, out
    assert out["scenario"] == "corrupt" and out["title"] == "Database Corruption Detected"
    assert sha(big_v1_shop.db) == before

    check = big_v1_shop.manage("check_db", "--json", chain="v2")
    assert check.returncode == 1
    assert json.loads(check.stdout)["healthy"] is False
    assert sha(big_v1_shop.db) == before
    assert not list((big_v1_shop.data_dir / "backups").glob("*.db")), "a damaged file is never backed up as good"


def test_check_db_reports_a_healthy_database(big_v1_shop):
    before = sha(big_v1_shop.db)
    proc = big_v1_shop.manage("check_db", chain="v1")
    assert proc.returncode == 0, proc.stdout
    assert "Integrity: OK (integrity_check" in proc.stdout and "Healthy: yes" in proc.stdout
    assert sha(big_v1_shop.db) == before
