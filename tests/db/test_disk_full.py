"""A full disk, on a real small filesystem: refused up front, or failed cleanly mid-copy."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from maintenance import exceptions
from maintenance.db import backups, diskspace
from tests.helpers.disk import fill_disk, small_tmpfs
from tests.helpers.shop import add_shop_data
from tests.helpers.sqlite import dump, sha

MB = 1024 * 1024


@pytest.fixture
def small_fs(tmp_path: Path):
    with small_tmpfs(tmp_path / "small") as mount_point:
        yield mount_point


def test_upgrade_is_refused_with_the_three_sizes_when_space_is_short(shop, small_fs, tmp_path):
    assert shop.upgrade_json("v1")[0] == 0
    add_shop_data(shop.db)
    # Move the shop onto the 40 MB filesystem: 50 MB minimum free space cannot be met.
    data = small_fs / "data"
    shop.move_to(data)
    before = sha(shop.db)

    code, out = shop.upgrade_json("v2")
    assert code == 2, out
    assert out["scenario"] == "disk" and out["title"] == "Database Migration Error"
    assert out["required_mb"] == 50.0 and out["available_mb"] < 40 and out["database_mb"] > 0
    assert f"Required: {out['required_mb']:.1f} MB" in out["message"]
    assert sha(shop.db) == before
    assert not list((data / "backups").iterdir())


def test_backup_running_out_of_space_leaves_no_file_and_the_database_untouched(small_fs, tmp_path):
    db = tmp_path / "pos_system.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob BLOB)")
    conn.executemany("INSERT INTO ballast (blob) VALUES (randomblob(4000))", [() for _ in range(15000)])
    conn.commit()
    conn.close()
    assert db.stat().st_size > 50 * 1024 * 1024
    before = sha(db)
    with pytest.raises(exceptions.BackupError, match="could not be written"):
        backups.create_backup(db, small_fs / "backups", reason="manual")
    assert sha(db) == before
    assert list((small_fs / "backups").iterdir()) == []


def test_manual_backup_on_a_full_disk_is_refused_with_the_sizes(shop, small_fs):
    assert shop.upgrade_json("v1")[0] == 0
    data = small_fs / "data"
    shop.move_to(data)
    fill_disk(small_fs, leave_bytes=3 * 1024 * 1024)
    before = sha(shop.db)

    proc = shop.manage("backup_db")
    assert proc.returncode == 2, proc.stderr
    assert "Not Enough Disk Space: Not enough disk space to back up the database." in proc.stderr
    sizes = dict(re.findall(r"(Database|Required|Available): ([\d.]+) MB", proc.stderr))
    assert float(sizes["Database"]) == round(shop.db.stat().st_size / MB, 1)
    assert float(sizes["Required"]) > float(sizes["Available"])
    assert abs(float(sizes["Available"]) - shutil.disk_usage(small_fs).free / MB) < 0.5
    assert proc.stdout == ""
    assert sha(shop.db) == before
    assert not (data / "backups").exists() or not list((data / "backups").iterdir())


def test_restore_on_a_full_disk_is_refused_before_anything_is_written(shop, small_fs):
    assert shop.upgrade_json("v1")[0] == 0
    data = small_fs / "data"
    shop.move_to(data)
    made = shop.manage("backup_db")
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip())
    add_shop_data(shop.db)
    fill_disk(small_fs, leave_bytes=3 * 1024 * 1024)
    before = sha(shop.db)
    listing = sorted(p.name for p in (data / "backups").iterdir())

    proc = shop.manage("restore_db", str(backup))
    assert proc.returncode == 2, proc.stderr
    assert "Not enough disk space to restore this backup." in proc.stderr
    assert sha(shop.db) == before
    assert sorted(p.name for p in (data / "backups").iterdir()) == listing


def test_a_disk_that_fills_during_a_migration_is_restored_in_the_space_the_run_started_with(shop, tmp_path):
    """The check passed, then a migration filled the disk: the restore must still fit, and later starts work."""
    with small_tmpfs(tmp_path / "fills", size="90m") as mount_point:
        assert shop.upgrade_json("v1")[0] == 0
        add_shop_data(shop.db, widgets=2000)
        shop.move_to(mount_point / "data")
        before = dump(shop.db)

        code, out = shop.upgrade_json("g_diskfill")
        assert code == 3, out["message"]
        assert "disk is full" in out["cause"] or "disk is full" in out["message"]
        assert dump(shop.db) == before
        leftovers = [p.name for p in shop.data_dir.iterdir() if p.name.endswith((".restore-tmp", "-journal"))]
        assert leftovers == []

        code, out = shop.upgrade_json("v1")  # the previous version starts again: no exit 4, no refusal
        assert (code, out["outcome"]) == (0, "up_to_date"), out
        assert shop.count("shopext_widget") == 2000


def test_a_sparse_garbage_wal_does_not_inflate_the_disk_rule(v1_shop):
    wal = v1_shop.db.with_name("pos_system.db-wal")
    with open(wal, "wb") as handle:  # 64 GB apparent size, a few bytes on disk, no valid WAL header
        handle.write(b"garbage!")
        handle.truncate(64 * 1024**3)
    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    assert out["outcome"] == "upgraded"
    assert v1_shop.count("shopext_widget") == 50


def test_a_manual_backup_leaves_no_partial_files(v1_shop):
    proc = v1_shop.manage("backup_db")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (v1_shop.data_dir / "backups").iterdir())
    backup = Path(proc.stdout.strip())
    assert names == [backup.name, backup.with_suffix(".json").name]


def test_a_restore_that_keeps_the_old_file_by_a_link_needs_room_for_one_copy_only(shop, tmp_path):
    """Room for the backup's copy but not for a second copy of the database: the restore fits and is done."""
    with small_tmpfs(tmp_path / "one-copy", size="80m") as mount_point:
        assert shop.upgrade_json("v1")[0] == 0
        shop.move_to(mount_point / "data")
        conn = sqlite3.connect(shop.db)
        with conn:
            conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob BLOB)")
            conn.executemany("INSERT INTO ballast (blob) VALUES (randomblob(4000))", [() for _ in range(3000)])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        made = shop.manage("backup_db")
        assert made.returncode == 0, made.stderr
        backup = Path(made.stdout.strip())
        add_shop_data(shop.db)  # sold after the backup: kept in the restore point
        conn = sqlite3.connect(shop.db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        before, old_inode = dump(shop.db), shop.db.stat().st_ino
        one_copy = backup.stat().st_size
        fill_disk(mount_point, leave_bytes=one_copy + 14 * MB)
        free = shutil.disk_usage(mount_point).free
        assert one_copy + 8 * MB < free < one_copy + shop.db.stat().st_size + 8 * MB, "room for one copy, not two"

        proc = shop.manage("restore_db", str(backup))
        assert proc.returncode == 0, proc.stderr
        assert sha(shop.db) == json.loads(backup.with_suffix(".json").read_text())["sha256"]
        point = Path(proc.stdout.split("Restore point: ", 1)[1].splitlines()[0])
        assert point.stat().st_ino == old_inode, "the old file itself is the restore point"
        assert dump(point) == before


def test_where_no_link_can_be_made_a_restore_asks_room_for_a_copy_of_the_database_too(live_db, tmp_path, monkeypatch):
    backup = tmp_path / "backup.db"
    shutil.copyfile(live_db, backup)
    size = live_db.stat().st_size
    assert diskspace.bytes_to_restore(backup, live_db, tmp_path / "backups") == size  # the old file is linked
    assert not list(tmp_path.glob(".aurswift-link-probe-*")), "the probe leaves nothing behind"

    def no_links(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    assert diskspace.bytes_to_restore(backup, live_db, tmp_path / "backups") == 2 * size
    assert not list(tmp_path.glob(".aurswift-link-probe-*"))


@pytest.mark.parametrize("damage", ["header", "hot journal"])
def test_a_restore_point_that_must_be_a_copy_is_given_room_up_front(live_db, tmp_path, damage):
    """A damaged header or a rollback journal to undo: the old file cannot be kept by a link, so room for a copy."""
    backup = tmp_path / "backup.db"
    shutil.copyfile(live_db, backup)
    size = live_db.stat().st_size
    if damage == "header":
        with open(live_db, "r+b") as handle:
            handle.write(b"\0" * 100)
    else:
        live_db.with_name(live_db.name + "-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 504)
    assert diskspace.bytes_to_restore(backup, live_db, tmp_path / "backups") == 2 * size


def test_a_raw_copy_that_runs_out_of_space_leaves_no_partial_file(live_db, tmp_path, monkeypatch):
    def disk_fills(src, dst, **kwargs):
        Path(dst).write_bytes(b"half a copy")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backups, "copy_file", disk_fills)
    with pytest.raises(OSError, match="No space left"):
        backups.create_raw_copy(live_db, tmp_path / "backups", reason="restore_point")
    assert list((tmp_path / "backups").iterdir()) == []
