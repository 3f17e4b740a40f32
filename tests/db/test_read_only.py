"""A read-only disk is refused with a clear message and exit 2: never a traceback, never "busy"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.disk import small_tmpfs
from tests.helpers.shop import add_shop_data
from tests.helpers.sqlite import sha


@pytest.fixture
def read_only_shop(shop, tmp_path: Path):
    with small_tmpfs(tmp_path / "ro", size="120m") as mount_point:
        assert shop.upgrade_json("v1")[0] == 0
        add_shop_data(shop.db)
        shop.move_to(mount_point / "data")
        proc = subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot remount a tmpfs read-only here: {proc.stderr.strip()}")
        yield shop


def test_an_upgrade_on_a_read_only_disk_is_refused_before_anything(read_only_shop):
    before = sha(read_only_shop.db)
    proc = read_only_shop.manage("upgrade_db", "--json", chain="v2")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out.get("scenario") == "readonly", out
    assert "cannot write" in out["message"] and "Nothing was changed" in out["message"]
    assert "Traceback" not in proc.stderr
    assert sha(read_only_shop.db) == before


@pytest.mark.parametrize("command", ["backup_db", "restore_db", "accept_migration"])
def test_other_commands_on_a_read_only_disk_exit_2_without_a_traceback(read_only_shop, command):
    args = {
        "backup_db": [],
        "restore_db": [str(read_only_shop.db)],
        "accept_migration": ["pos", "0001_initial", "--reason", "test"],
    }[command]
    proc = read_only_shop.manage(command, *args, chain="v1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip()


def test_check_db_reads_a_read_only_disk(read_only_shop):
    proc = read_only_shop.manage("check_db", chain="v1")
    assert "Traceback" not in proc.stderr
    assert "Classification: managed" in proc.stdout, proc.stdout + proc.stderr
