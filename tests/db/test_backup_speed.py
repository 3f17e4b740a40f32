"""A backup holds no write lock while it copies: the till keeps writing, the backup stays one consistent snapshot."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from maintenance.db import backups
from maintenance.db.integrity import check_touched, schema_only
from maintenance.db.sqlite_tools import copy_file, pinned_snapshot
from tests.helpers.sqlite import sha

MB = 1024 * 1024

WRITER = textwrap.dedent(
    """
    import json, sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")  # as the app's connections
    stop_at = time.monotonic() + float(sys.argv[2])
    commits, longest = [], 0.0
    print("ready", flush=True)
    while time.monotonic() < stop_at:
        started = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("INSERT INTO sale (total_minor, blob) VALUES (7, randomblob(2000))").lastrowid
        conn.execute("UPDATE tally SET total = total + 7, sales = sales + 1")
        conn.execute("COMMIT")
        done = time.monotonic()
        longest = max(longest, done - started)
        commits.append((row, done, done - started))
        time.sleep(0.002)
    print(json.dumps({"commits": commits, "longest": longest}), flush=True)
    """
)


def _big_wal_db(path: Path, mb: int) -> Path:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, total_minor INTEGER, blob BLOB)")
    conn.execute("CREATE TABLE tally (total INTEGER, sales INTEGER)")
    conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('pos', '0001_initial', 'now')")
    rows = mb * 256  # 4 kB each
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO sale (total_minor, blob) VALUES (7, randomblob(4000))", [()] * rows)
    conn.execute("INSERT INTO tally VALUES (?, ?)", (7 * rows, rows))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def test_a_writer_committing_in_a_loop_is_not_held_up_by_a_backup(tmp_path):
    db = _big_wal_db(tmp_path / "pos_system.db", 100)
    assert db.stat().st_size > 100 * MB
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        time.sleep(0.5)
        started = time.monotonic()
        info = backups.create_backup(db, tmp_path / "backups", reason="manual", full_check=True)
        finished = time.monotonic()
        out, err = writer.communicate(timeout=60)
    finally:
        writer.kill()
    result = json.loads(out.strip().splitlines()[-1])
    commits = result["commits"]
    during = [c for c in commits if started <= c[1] <= finished]
    assert during, "the writer committed nothing while the backup ran"
    # The writer never waited long for its write lock (1 s is generous for a noisy VM; typically a few ms).
    slowest = sorted(commits, key=lambda c: -c[2])[:3]
    assert result["longest"] < 1.0, [(round(at - started, 2), round(wait, 3)) for _, at, wait in slowest]

    # The backup is the bytes its sidecar describes, and a sound database...
    sidecar = json.loads(info.path.with_suffix(".json").read_text())
    assert sha(info.path) == sidecar["sha256"] == info.sha256 and sidecar["verified"] is True
    conn = sqlite3.connect(f"file:{info.path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, top = conn.execute("SELECT count(*), max(id) FROM sale").fetchone()
        total, sales = conn.execute("SELECT total, sales FROM tally").fetchone()
    finally:
        conn.close()
    for side in ("-wal", "-shm"):
        Path(str(info.path) + side).unlink(missing_ok=True)
    # ...and one consistent snapshot: every commit up to some moment and none after it (the ids of
    # a single writer are a prefix), each transaction whole (the tally agrees with the rows), taken
    # between the start and the end of create_backup.
    assert count == top and (total, sales) == (7 * count, count)
    before = max((row for row, at, _ in commits if at < started), default=0)
    after = max(row for row, at, _ in commits if at <= finished)
    assert before <= top <= after, (before, top, after)


def test_the_main_file_does_not_change_while_a_snapshot_is_pinned(tmp_path):
    db = _big_wal_db(tmp_path / "pos_system.db", 4)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("INSERT INTO sale (total_minor, blob) VALUES (1, randomblob(100))")  # in the log, not the file
    with pinned_snapshot(db, readers=2) as readers:
        assert readers is not None
        pinned = sha(db)
        for _ in range(3000):  # > 1000 pages: the writer's automatic checkpoints are attempted meanwhile
            writer.execute("INSERT INTO sale (total_minor, blob) VALUES (1, randomblob(3000))")
        assert sha(db) == pinned
        counts = {r.execute("SELECT count(*) FROM sale").fetchone()[0] for r in readers}
        assert counts == {4 * 256 + 1}
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert sha(db) != pinned
    writer.close()


def test_a_reader_of_an_old_snapshot_falls_back_to_the_online_backup(tmp_path, monkeypatch):
    db = _big_wal_db(tmp_path / "pos_system.db", 2)
    old_reader = sqlite3.connect(db, isolation_level=None)
    old_reader.execute("BEGIN")
    old_reader.execute("SELECT count(*) FROM sale").fetchone()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("INSERT INTO sale (total_minor, blob) VALUES (99, randomblob(10))")
    with pinned_snapshot(db, wait_s=0.2) as readers:
        assert readers is None  # the old reader keeps the new frame from being checkpointed
    info = backups.create_backup(db, tmp_path / "b", reason="manual", full_check=True)
    old_reader.close()
    writer.close()
    assert sha(info.path) == info.sha256
    conn = sqlite3.connect(info.path)
    assert conn.execute("SELECT count(*) FROM sale WHERE total_minor = 99").fetchone()[0] == 1
    conn.close()


def test_copy_file_hashes_what_it_writes(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: several chunks
    seen = []
    digest = copy_file(src, tmp_path / "dst.bin", progress=lambda done, total: seen.append((done, total)))
    assert digest == sha(src) == sha(tmp_path / "dst.bin")
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)


def test_a_corrupt_snapshot_fails_the_manual_backup_and_leaves_nothing(tmp_path):
    db = _big_wal_db(tmp_path / "pos_system.db", 2)
    data = bytearray(db.read_bytes())
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sale'").fetchone()[0]
    conn.close()
    page = 4096
    data[page * (root - 1) : page * (root - 1) + 12] = b"\xff" * 12  # the sale table's root page header
    db.write_bytes(bytes(data))
    with pytest.raises(backups.exceptions.BackupVerificationError, match="failed its check"):
        backups.create_backup(db, tmp_path / "b", reason="manual", full_check=True)
    assert list((tmp_path / "b").iterdir()) == []


def test_the_verify_after_a_schema_change_checks_the_changed_tables_and_their_children(tmp_path):
    before = tmp_path / "before.db"
    conn = sqlite3.connect(before)
    conn.executescript(
        """
        CREATE TABLE category (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE product (id INTEGER PRIMARY KEY, category_id INTEGER REFERENCES category (id));
        CREATE TABLE other (id INTEGER PRIMARY KEY);
        INSERT INTO category VALUES (1, 'a'), (2, 'b');
        INSERT INTO product VALUES (1, 1), (2, 2);
        """
    )
    conn.close()
    after = tmp_path / "after.db"
    after.write_bytes(before.read_bytes())
    conn = sqlite3.connect(after)
    # A rebuild of the parent that loses a row: the child's row now dangles.
    conn.executescript(
        """
        CREATE TABLE new_category (id INTEGER PRIMARY KEY, name TEXT, colour TEXT DEFAULT '');
        INSERT INTO new_category (id, name) SELECT id, name FROM category WHERE id = 1;
        DROP TABLE category;
        ALTER TABLE new_category RENAME TO category;
        CREATE INDEX other_idx ON other (id);
        """
    )
    conn.close()
    result = check_touched(after, before)
    assert not result.ok and result.foreign_key_violations == 1, result.problems
    assert "product" in result.problems[0]
    assert check_touched(before, before).ok


def test_only_known_schema_operations_count_as_schema_only():
    from django.db import migrations, models

    class Schema(migrations.Migration):
        operations = [migrations.AddField("note", "x", models.IntegerField(default=0))]

    class Data(migrations.Migration):
        operations = [migrations.RunPython(migrations.RunPython.noop)]

    assert schema_only([Schema("0002", "app")])
    assert not schema_only([Schema("0002", "app"), Data("0003", "app")])
