"""Backups: unique names, verification, retention, safe names, atomic restore."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from maintenance import exceptions
from maintenance.db import backups
from tests.helpers.sqlite import sha

NOW = datetime(2026, 11, 24, 9, 30, 0).astimezone()


def test_backup_is_verified_and_described(live_db, tmp_path):
    info = backups.create_backup(live_db, tmp_path / "backups", reason="manual", now=NOW, full_check=True)
    assert info.path.name == "aurswift-backup-20261124-093000.db"
    sidecar = json.loads(info.path.with_suffix(".json").read_text())
    assert sidecar["sha256"] == sha(info.path) == info.sha256
    assert sidecar["migrations"] == ["pos.0001_initial"] and sidecar["reason"] == "manual"
    assert sidecar["verified"] is True and sidecar["size"] == info.path.stat().st_size
    conn = sqlite3.connect(info.path)
    assert conn.execute("SELECT sum(total_minor) FROM sale").fetchone()[0] == sum(range(1000))
    conn.close()


def test_backup_includes_data_still_in_the_write_ahead_log(live_db, tmp_path):
    writer = sqlite3.connect(live_db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("INSERT INTO sale (total_minor) VALUES (424242)")
    writer.commit()  # committed, still in -wal while this connection is open
    info = backups.create_backup(live_db, tmp_path / "backups", reason="manual", now=NOW)
    writer.close()
    conn = sqlite3.connect(info.path)
    assert conn.execute("SELECT count(*) FROM sale WHERE total_minor = 424242").fetchone()[0] == 1
    conn.close()


def test_names_are_unique_within_one_second(live_db, tmp_path):
    names = [backups.create_backup(live_db, tmp_path / "b", reason="manual", now=NOW).path.name for _ in range(3)]
    assert names == [
        "aurswift-backup-20261124-093000.db",
        "aurswift-backup-20261124-093000-2.db",
        "aurswift-backup-20261124-093000-3.db",
    ]


def test_verify_detects_a_changed_backup(live_db, tmp_path):
    info = backups.create_backup(live_db, tmp_path / "b", reason="manual", now=NOW)
    data = bytearray(info.path.read_bytes())
    data[-100] ^= 0xFF
    info.path.write_bytes(bytes(data))
    with pytest.raises(exceptions.BackupVerificationError, match="checksum mismatch"):
        backups.verify_backup(info.path)
    assert backups.read_info(info.path).verified is False


def test_retention_keeps_manual_newest_verified_and_the_one_just_made(live_db, tmp_path):
    bdir = tmp_path / "b"
    manual = backups.create_backup(live_db, bdir, reason="manual", now=NOW - timedelta(days=30))
    autos = [
        backups.create_backup(live_db, bdir, reason="before_migration", now=NOW + timedelta(minutes=i))
        for i in range(5)
    ]
    removed = backups.prune_backups(bdir, keep=2, protect=autos[0].path)
    assert sorted(removed) == sorted(a.path for a in autos[1:3])
    left = {b.path for b in backups.list_backups(bdir)}
    assert left == {manual.path, autos[0].path, autos[3].path, autos[4].path}


def test_only_backup_names_inside_the_folder_are_accepted(live_db, tmp_path):
    bdir = tmp_path / "b"
    info = backups.create_backup(live_db, bdir, reason="manual", now=NOW)
    assert backups.resolve_backup(bdir, info.name) == bdir / info.name
    for bad in ["../pos_system.db", str(live_db), "/etc/passwd", "aurswift-backup-20261124-093000.db/../x", ""]:
        with pytest.raises(exceptions.BackupError):
            backups.resolve_backup(bdir, bad)


def test_newest_verified_backup_cannot_be_deleted(live_db, tmp_path):
    bdir = tmp_path / "b"
    old = backups.create_backup(live_db, bdir, reason="manual", now=NOW)
    new = backups.create_backup(live_db, bdir, reason="manual", now=NOW + timedelta(hours=1))
    with pytest.raises(exceptions.BackupError, match="newest verified"):
        backups.delete_backup(new.path, bdir)
    backups.delete_backup(old.path, bdir)
    assert not old.path.exists() and not old.path.with_suffix(".json").exists()


def test_restore_replaces_the_database_and_drops_a_stale_wal(live_db, tmp_path):
    info = backups.create_backup(live_db, tmp_path / "b", reason="manual", now=NOW)
    conn = sqlite3.connect(live_db)
    conn.execute("DELETE FROM sale")
    conn.commit()
    conn.close()
    stale_wal = live_db.with_name(live_db.name + "-wal")
    stale_wal.write_bytes(b"stale")
    backups.restore_backup(info.path, live_db)
    assert sha(live_db) == info.sha256
    assert not stale_wal.exists()
    assert not (live_db.parent / backups.RESTORE_MARKER).exists()


def test_restore_refuses_a_damaged_backup_and_keeps_the_database(live_db, tmp_path):
    info = backups.create_backup(live_db, tmp_path / "b", reason="manual", now=NOW)
    before = sha(live_db)
    data = bytearray(info.path.read_bytes())
    data[5000] ^= 0xFF
    info.path.write_bytes(bytes(data))
    with pytest.raises(exceptions.RestoreFailedError, match="damaged"):
        backups.restore_backup(info.path, live_db)
    assert sha(live_db) == before


def test_an_interrupted_restore_is_finished_at_next_start(live_db, tmp_path):
    info = backups.create_backup(live_db, tmp_path / "b", reason="manual", now=NOW)
    live_db.write_bytes(b"half written")  # a crash between dropping the WAL and the rename
    backups.write_json_atomic(live_db.parent / backups.RESTORE_MARKER, {"backup": str(info.path)})
    assert backups.finish_interrupted_restore(live_db) == info.path
    assert sha(live_db) == info.sha256


def test_managers_retention_setting_drives_pruning(tmp_path, settings):
    from maintenance.db import preferences
    from maintenance.db.upgrade import retention

    settings.DATA_DIR = tmp_path
    assert retention(tmp_path) == settings.AURSWIFT_BACKUP_RETENTION == 10
    preferences.set_backup_retention(tmp_path, 3)
    assert retention(tmp_path) == 3
    with pytest.raises(ValueError, match="between 1 and 1000"):
        preferences.set_backup_retention(tmp_path, 0)


def test_what_the_till_wrote_during_a_backup_is_checkpointed_by_the_backup_not_by_the_next_sale(live_db, tmp_path):
    """While the snapshot is pinned no checkpoint can move the log into the file; the backup does it when done."""
    till = sqlite3.connect(live_db, isolation_level=None, check_same_thread=False)  # kept open: the log stays
    till.execute("PRAGMA wal_autocheckpoint = 0")  # only the backup may move the log here

    def sell(progress) -> None:
        if progress.message.startswith("Backing up"):  # not "Backup saved": that comes after the backup's work
            till.execute("INSERT INTO sale (total_minor) VALUES (777)")

    backups.create_manual_backup(live_db, tmp_path / "backups", progress=sell)
    in_main_file = sqlite3.connect(f"file:{live_db}?immutable=1", uri=True)  # the main file alone, not the log
    try:
        sold = in_main_file.execute("SELECT count(*) FROM sale WHERE total_minor = 777").fetchone()[0]
        assert sold >= 1 and sold == till.execute("SELECT count(*) FROM sale WHERE total_minor = 777").fetchone()[0]
    finally:
        in_main_file.close()
        till.close()


@pytest.mark.parametrize("checkpoint_after", [True, False])
def test_releasing_a_snapshot_checkpoints_only_when_asked(live_db, checkpoint_after):
    """A backup beside the till moves the log back when done; the guarded upgrade (alone, under its lock) does not."""
    from maintenance.db.sqlite_tools import pinned_snapshot

    writer = sqlite3.connect(live_db, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with pinned_snapshot(live_db, checkpoint_after=checkpoint_after) as readers:
        assert readers is not None
        writer.execute("INSERT INTO sale (total_minor) VALUES (515515)")
    main_file = sqlite3.connect(f"file:{live_db}?immutable=1", uri=True)
    try:
        in_main_file = main_file.execute("SELECT count(*) FROM sale WHERE total_minor = 515515").fetchone()[0]
    finally:
        main_file.close()
        writer.close()
    assert in_main_file == (1 if checkpoint_after else 0)


def test_two_backups_in_one_second_get_two_names(tmp_path):
    """The name is claimed when it is chosen: a second backup in the same second never writes the same file."""
    now = datetime(2026, 12, 6, 9, 30, 0).astimezone()
    first, second = backups._unique_path(tmp_path, now), backups._unique_path(tmp_path, now)
    assert first != second
    assert (first.name, second.name) == ("aurswift-backup-20261206-093000.db", "aurswift-backup-20261206-093000-2.db")


def test_an_upgrade_leaves_alone_the_backup_a_running_backup_db_is_writing(v1_shop):
    """backup_db may run beside an upgrade; the upgrade's clean-up removes only what a crash left."""
    import signal

    writing, _ = v1_shop._run_until_paused("backup_writing", ("backup_db",), "v1")
    try:
        (partial,) = (v1_shop.data_dir / "backups").glob("*.partial")
        code, out = v1_shop.upgrade_json("v2")
        assert (code, out["outcome"]) == (0, "upgraded"), out
        assert partial.exists(), "the running backup's file is still there"
    finally:
        writing.send_signal(signal.SIGKILL)
        writing.communicate(timeout=30)
    assert v1_shop.upgrade_json("v2")[0] == 0
    assert not partial.exists(), "once its writer is gone, it is a leftover, and the next run removes it"


def test_a_backup_stopped_at_its_first_step_leaves_no_claimed_name_behind(live_db, tmp_path):
    folder = tmp_path / "backups"

    def stop(progress) -> None:
        raise exceptions.BackupError("The backup was cancelled; no backup was kept.")

    with pytest.raises(exceptions.BackupError):
        backups.create_backup(live_db, folder, reason="manual", progress=stop)
    assert list(folder.iterdir()) == []


def test_a_restore_whose_backups_folder_was_deleted_meanwhile_keeps_its_restore_point_there(live_db, tmp_path):
    made = backups.create_backup(live_db, tmp_path / "kept", reason="manual")
    point = backups.restore_with_restore_point(made.path, live_db, tmp_path / "gone" / "backups")
    assert point is not None and point.path.parent == tmp_path / "gone" / "backups" and point.path.exists()
