"""A restore keeps the live database as its restore point without copying it, and a kill at any step loses nothing.

The live file, sealed (its write-ahead log checkpointed into it), becomes the
restore point by a hard link; the validated copy of the backup is renamed
over the database. Each test checks what is on disk afterwards: the bytes of
the live database, the restore point against its sidecar, and no leftovers.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest

from maintenance.db import backups, recovery
from tests.helpers.shop import config_for
from tests.helpers.sqlite import dump, ro_uri, sha


def _totals(path: Path) -> list[int]:
    conn = sqlite3.connect(ro_uri(path), uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT total_minor FROM sale ORDER BY id")]
    finally:
        conn.close()


def _sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


@pytest.fixture
def chosen(live_db: Path, tmp_path: Path) -> backups.BackupInfo:
    """A backup of the 1,000 sales; then the live database moves on (one more sale, still in its -wal)."""
    info = backups.create_backup(live_db, tmp_path / "backups", reason="manual")
    till = sqlite3.connect(live_db)
    till.execute("INSERT INTO sale (total_minor) VALUES (250)")
    till.commit()
    till.close()
    return info


def test_the_restore_point_is_the_live_file_and_stays_apart_from_the_restored_one(live_db, tmp_path, chosen):
    point = recovery.restore_from_backup(chosen.path, config_for(live_db, tmp_path))

    assert point is not None and point.reason == "restore_point" and point.verified
    assert sha(live_db) == chosen.sha256  # the live database is the chosen backup, byte for byte
    assert sha(point.path) == point.sha256 == _sidecar(point.path)["sha256"]
    assert _totals(point.path) == [*range(1000), 250]  # the sale that was only in the -wal is kept
    assert _sidecar(point.path)["migrations"] == ["pos.0001_initial"]
    assert point.path.stat().st_ino != live_db.stat().st_ino and point.path.stat().st_nlink == 1
    kept = sha(point.path)
    till = sqlite3.connect(live_db)  # the shop goes on: the restore point must not change with it
    till.execute("INSERT INTO sale (total_minor) VALUES (7)")
    till.commit()
    till.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    till.close()
    assert sha(point.path) == kept
    assert not backups.restore_tmp_path(live_db).exists()
    assert not (live_db.parent / backups.RESTORE_MARKER).exists()
    assert backups.verify_backup(point.path).verified


def test_where_no_hard_link_can_be_made_the_restore_point_is_a_copy(live_db, tmp_path, chosen, monkeypatch):
    def no_links(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(backups.os, "link", no_links)
    point = recovery.restore_from_backup(chosen.path, config_for(live_db, tmp_path))

    assert point is not None and point.verified
    assert sha(point.path) == point.sha256
    assert _totals(point.path) == [*range(1000), 250]
    assert sha(live_db) == chosen.sha256


def test_a_log_that_cannot_be_checkpointed_is_copied_into_the_restore_point(live_db, tmp_path, chosen):
    # A reader of an old snapshot keeps the last sale from being checkpointed into the main file.
    reader = sqlite3.connect(live_db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sale").fetchone()
    till = sqlite3.connect(live_db)
    till.execute("INSERT INTO sale (total_minor) VALUES (99)")
    till.commit()
    till.close()
    try:
        assert backups.seal_live(live_db) is None
        point = recovery.restore_from_backup(chosen.path, config_for(live_db, tmp_path))
    finally:
        reader.close()
    assert point is not None and sha(point.path) == point.sha256
    assert _totals(point.path) == [*range(1000), 250, 99]
    assert sha(live_db) == chosen.sha256


def test_a_refused_backup_leaves_no_copy_and_no_restore_point(live_db, tmp_path, chosen):
    sidecar = chosen.path.with_suffix(".json")
    sidecar.write_text(json.dumps({**_sidecar(chosen.path), "sha256": "0" * 64}))
    before = dump(live_db)
    listing = sorted(p.name for p in chosen.path.parent.iterdir())
    with pytest.raises(backups.exceptions.BackupInvalidError, match="checksum mismatch"):
        recovery.restore_from_backup(chosen.path, config_for(live_db, tmp_path))
    assert dump(live_db) == before
    assert sorted(p.name for p in chosen.path.parent.iterdir()) == listing
    assert not backups.restore_tmp_path(live_db).exists()
    assert not (live_db.parent / backups.RESTORE_MARKER).exists()


def test_a_swap_that_fails_leaves_the_database_and_no_restore_point_sharing_its_file(
    live_db, tmp_path, chosen, monkeypatch
):
    before = sha(live_db)
    listing = sorted(p.name for p in chosen.path.parent.iterdir())
    real_replace = backups.os.replace

    def replace(src, dst):
        if Path(src) == backups.restore_tmp_path(live_db):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(backups.os, "replace", replace)
    with pytest.raises(backups.exceptions.BackupError, match="Nothing was changed"):
        recovery.restore_from_backup(chosen.path, config_for(live_db, tmp_path))
    monkeypatch.undo()
    assert sha(live_db) == before and _totals(live_db) == [*range(1000), 250]
    assert sorted(p.name for p in chosen.path.parent.iterdir()) == listing  # the hard link is gone again
    assert live_db.stat().st_nlink == 1
    assert not backups.restore_tmp_path(live_db).exists()
    assert not (live_db.parent / backups.RESTORE_MARKER).exists()


# --- SIGKILL at every step of restore_db ---------------------------------------
STEPS_BEFORE_THE_MARKER = ["restore_staged"]
STEPS_AFTER_THE_MARKER = ["restore_point_keeping", "restore_point_linked", "restore_swapping"]


@pytest.fixture
def shop_to_restore(v1_shop):
    """A shop with a backup of its 50 widgets, whose live database then lost them (what the restore undoes)."""
    made = v1_shop.manage("backup_db")
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip())
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute("DELETE FROM shopext_widget")
    conn.close()
    return v1_shop, backup


def _leftovers(shop) -> list[str]:
    names = [p.name for p in shop.data_dir.iterdir()] + [p.name for p in (shop.data_dir / "backups").iterdir()]
    return [n for n in names if n.endswith((".partial", ".restore-tmp")) or n == backups.RESTORE_MARKER]


@pytest.mark.parametrize("step", STEPS_BEFORE_THE_MARKER)
def test_restore_killed_before_its_marker_leaves_the_database_as_it_was(shop_to_restore, step):
    shop, backup = shop_to_restore
    before = dump(shop.db)
    listing = sorted(p.name for p in (shop.data_dir / "backups").iterdir())
    shop.kill_at(step, "restore_db", str(backup))
    assert dump(shop.db) == before  # right after the kill

    code, out = shop.upgrade_json("v1")  # the next start
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert dump(shop.db) == before
    assert sorted(p.name for p in (shop.data_dir / "backups").iterdir()) == listing
    assert _leftovers(shop) == []


@pytest.mark.parametrize("step", STEPS_AFTER_THE_MARKER)
def test_restore_killed_after_its_marker_is_finished_with_its_restore_point(shop_to_restore, step):
    shop, backup = shop_to_restore
    before = dump(shop.db)
    wanted = dump(backup)
    shop.kill_at(step, "restore_db", str(backup))
    assert dump(shop.db) in (before, wanted)  # right after the kill: one database or the other, whole

    code, out = shop.upgrade_json("v1")  # the next start finishes the restore
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert dump(shop.db) == wanted
    assert shop.count("shopext_widget") == 50
    points = [b for b in backups.list_backups(shop.data_dir / "backups") if b.reason == "restore_point"]
    assert len(points) == 1
    point = points[0]
    assert sha(point.path) == point.sha256 and point.verified
    assert dump(point.path) == before  # the database before the restore, kept whole
    assert _leftovers(shop) == []
