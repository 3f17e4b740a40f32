"""A restore validates the file first: anything that is not a sound backup of this app is refused, exit 2."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.sqlite import sha


def _make(kind: str, tmp_path: Path, shop) -> Path:
    path = tmp_path / f"candidate-{kind}.db"
    if kind == "text":
        path.write_text("these are not the sales you are looking for\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "other_app":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
        conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0001_initial', 'now')")
        conn.execute("CREATE TABLE blog_post (id INTEGER PRIMARY KEY, title TEXT)")
        conn.commit()
        conn.close()
    elif kind == "not_django":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.commit()
        conn.close()
    elif kind not in ("live_database", "link_to_the_live_database"):
        made = shop.manage("backup_db")
        assert made.returncode == 0, made.stderr
        backup = Path(made.stdout.strip())
        if kind == "newer":
            conn = sqlite3.connect(backup)
            conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('pos', '9999_future', 'now')")
            conn.commit()
            conn.close()
            backup.with_suffix(".json").unlink()  # a file brought from a newer till, no sidecar
        elif kind == "damaged":
            data = bytearray(backup.read_bytes())
            page = 4096
            for offset in range(2 * page, len(data) - page, 3 * page):
                data[offset : offset + page] = b"\xa5" * page
            backup.write_bytes(bytes(data))
            backup.with_suffix(".json").unlink()
        elif kind == "sidecar_mismatch":
            sidecar = backup.with_suffix(".json")
            meta = json.loads(sidecar.read_text())
            meta["sha256"] = "0" * 64
            sidecar.write_text(json.dumps(meta))
        elif kind in ("sidecar_garbled", "sidecar_without_sha"):
            _change_a_price(backup)  # a sound file whose checksum no longer matches: only the sidecar could tell
            sidecar = backup.with_suffix(".json")
            meta = json.loads(sidecar.read_text())
            meta["sha256"] = None
            sidecar.write_text("{garbled" if kind == "sidecar_garbled" else json.dumps(meta))
        elif kind == "changed_through_its_log":  # opened (WAL) and written after it was saved
            sidecar = backup.with_suffix(".json")
            meta = json.loads(sidecar.read_text())
            _written_through_its_log(backup, "UPDATE shopext_widget SET name = 'changed'")
            meta["sha256"] = sha(backup)  # its main file is what was saved (a WAL-mode header is one change)
            sidecar.write_text(json.dumps(meta))
        elif kind == "hot_journal":
            (backup.parent / (backup.name + "-journal")).write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 4088)
            backup.with_suffix(".json").unlink()
        path = backup
    elif kind == "live_database":
        path = shop.db
    elif kind == "link_to_the_live_database":
        path = tmp_path / "looks-like-a-backup.db"
        path.symlink_to(shop.db)
    return path


def _change_a_price(backup: Path) -> None:
    conn = sqlite3.connect(backup)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("UPDATE shopext_widget SET name = 'edited' WHERE id = 1")
    conn.commit()
    conn.close()


def _written_through_its_log(db: Path, sql: str, params=()) -> None:
    """Leave ``db`` as a program that stopped before checkpointing leaves it: the change only in its ``-wal``."""
    scratch = db.with_name(db.name + ".scratch")
    shutil.copyfile(db, scratch)
    conn = sqlite3.connect(scratch)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    if params:
        conn.executemany(sql, params)
    else:
        conn.execute(sql)
    conn.commit()
    shutil.copyfile(scratch, db)  # while the connection is open: the main file has not been written back
    shutil.copyfile(scratch.with_name(scratch.name + "-wal"), db.with_name(db.name + "-wal"))
    conn.close()
    for leftover in scratch.parent.glob(scratch.name + "*"):
        leftover.unlink()


@pytest.mark.parametrize(
    "kind",
    [
        "text",
        "empty",
        "other_app",
        "not_django",
        "newer",
        "damaged",
        "sidecar_mismatch",
        "sidecar_garbled",
        "sidecar_without_sha",
        "changed_through_its_log",
        "hot_journal",
        "live_database",
        "link_to_the_live_database",
        "missing",
    ],
)
def test_restore_db_refuses_what_is_not_a_sound_backup(v1_shop, tmp_path, kind):
    candidate = tmp_path / "nowhere.db" if kind == "missing" else _make(kind, tmp_path, v1_shop)
    before = sha(v1_shop.db)
    listing = sorted(p.name for p in (v1_shop.data_dir / "backups").iterdir())

    proc = v1_shop.manage("restore_db", str(candidate))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot be restored" in proc.stderr and "Nothing was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sha(v1_shop.db) == before
    assert sorted(p.name for p in (v1_shop.data_dir / "backups").iterdir()) == listing  # no restore point either
    assert not (v1_shop.data_dir / "pos_system.db.restore-tmp").exists()  # nor the copy made while checking
    assert not (v1_shop.data_dir / "restore-in-progress.json").exists()
    code, out = v1_shop.upgrade_json("v1")
    assert (code, out["outcome"]) == (0, "up_to_date")


def test_restore_db_restores_a_sound_backup_after_a_restore_point(v1_shop):
    made = v1_shop.manage("backup_db")
    backup = Path(made.stdout.strip())
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute("DELETE FROM shopext_widget")
    conn.close()
    proc = v1_shop.manage("restore_db", "--json", str(backup))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert v1_shop.count("shopext_widget") == 50
    point = Path(out["restore_point"])
    copy = point.with_name("check.db")
    shutil.copyfile(point, copy)
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT count(*) FROM shopext_widget").fetchone()[0] == 0
    conn.close()


def _sidecar(backup: Path) -> dict:
    return json.loads(backup.with_suffix(".json").read_text())


def test_a_backup_whose_bytes_passed_the_check_is_trusted_by_its_hash_alone(v1_shop):
    """quick_check is a function of the bytes: a backup checked when made is proven by its sha256, not re-checked.

    A changed byte still refuses it (the hash), and a backup nobody checked is checked before it is restored.
    """
    manual = Path(v1_shop.manage("backup_db").stdout.strip())
    assert _sidecar(manual)["checked"] is True
    code, out = v1_shop.upgrade_json("v2")
    assert code == 0, out
    before_migration = Path(out["backup"])
    assert _sidecar(before_migration)["checked"] is True, "the upgrade checked the very snapshot it copied"

    proc = v1_shop.manage("restore_db", str(manual), chain="v2")
    assert proc.returncode == 0, proc.stderr
    assert v1_shop.count("shopext_widget") == 50

    data = bytearray(manual.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of a sale flips on the disk
    manual.write_bytes(bytes(data))
    before = sha(v1_shop.db)
    proc = v1_shop.manage("restore_db", str(manual), chain="v2")
    assert proc.returncode == 2 and "checksum mismatch" in proc.stderr, proc.stderr
    assert sha(v1_shop.db) == before


def test_a_damaged_backup_not_recorded_as_checked_is_checked_and_refused(v1_shop):
    backup = Path(v1_shop.manage("backup_db").stdout.strip())
    data = bytearray(backup.read_bytes())
    for offset in range(2 * 4096, len(data) - 4096, 3 * 4096):
        data[offset : offset + 4096] = b"\xa5" * 4096
    backup.write_bytes(bytes(data))
    meta = _sidecar(backup)  # a sidecar written for these bytes, by a version that did not check them
    meta["sha256"], meta["checked"] = sha(backup), False
    backup.with_suffix(".json").write_text(json.dumps(meta))
    before = sha(v1_shop.db)
    proc = v1_shop.manage("restore_db", str(backup))
    assert proc.returncode == 2 and "damaged" in proc.stderr, proc.stderr
    assert sha(v1_shop.db) == before


@pytest.fixture
def kept_with_log(v1_shop, tmp_path) -> tuple[Path, int]:
    """A copy of the shop kept aside as ``pos_system.db.old.<time>`` whose 40 newest rows are only in its log."""
    kept = tmp_path / "pos_system.db.old.20261206-090000"
    shutil.copyfile(v1_shop.db, kept)
    before = v1_shop.count("shopext_widget")
    rows = [(f"late {i}",) for i in range(40)]
    _written_through_its_log(kept, "INSERT INTO shopext_widget (name, category_id) VALUES (?, 1)", rows)
    return kept, before + 40


def test_a_file_kept_aside_with_its_log_is_restored_with_what_the_log_holds(v1_shop, kept_with_log):
    """``pos_system.db.old.<time>`` keeps its ``-wal``: the sales in it are part of what is restored."""
    kept, expected = kept_with_log
    kept_bytes = (sha(kept), sha(kept.parent / (kept.name + "-wal")))

    proc = v1_shop.manage("restore_db", str(kept))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert v1_shop.count("shopext_widget") == expected, "the rows that were only in the log are restored too"
    assert (sha(kept), sha(kept.parent / (kept.name + "-wal"))) == kept_bytes, "the file and its log are untouched"


def test_a_restore_of_a_file_kept_with_its_log_cut_off_by_a_crash_is_finished_with_the_log(v1_shop, kept_with_log):
    kept, expected = kept_with_log

    v1_shop.kill_at("restore_point_keeping", "restore_db", str(kept))
    code, out = v1_shop.upgrade_json("v1")  # the next start finishes the restore
    assert code == 0, out
    assert v1_shop.count("shopext_widget") == expected, "finished with what the log holds too"
