"""Try Repair: one at a time, with progress, bounded, and it leaves no scratch folders behind."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from maintenance import exceptions
from maintenance.db import recovery
from maintenance.db.health import kept_aside_files
from tests.helpers.shop import config_for
from tests.helpers.sqlite import ro_uri, sha


def _damaged_shop(folder: Path, rows: int = 60_000) -> Path:
    db = folder / "pos_system.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO staff (name) VALUES (?)", [("Casey",), ("Morgan",)])
    conn.executemany("INSERT INTO sale (note) VALUES (?)", [(f"sale {i} " + "x" * 400,) for i in range(rows)])
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    for page in (pages // 3, pages // 2, pages * 2 // 3):  # unreadable pages in the middle of the sales
        data[page * 4096 : page * 4096 + 4096] = b"\xa5" * 4096
    db.write_bytes(bytes(data))
    return db


def test_a_second_repair_is_refused_while_one_runs_and_the_first_finishes_cleanly(tmp_path):
    db = _damaged_shop(tmp_path)
    original = sha(db)
    seen: list[str] = []
    result: dict[str, object] = {}

    def first() -> None:
        result["report"] = recovery.try_repair(config_for(db, tmp_path), progress=lambda p: seen.append(p.message))

    worker = threading.Thread(target=first)
    worker.start()
    deadline = time.monotonic() + 10
    while not recovery._repairing.locked():  # the first repair has started
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.001)
    with pytest.raises(exceptions.RecoveryInProgressError, match="already running"):
        recovery.try_repair(config_for(db, tmp_path))
    worker.join(timeout=120)

    report = result["report"]
    assert report.ok, report.message
    sales = next(t for t in report.tables if t.table == "sale")
    assert 50_000 < sales.recovered_rows < 60_000
    assert sales.lost_rows in (None, 60_000 - sales.recovered_rows)
    if sales.lost_rows is None:
        assert "an unknown number in sale" in report.message
    assert next(t for t in report.tables if t.table == "staff").recovered_rows == 2
    assert any("Repairing:" in message for message in seen)
    kept = kept_aside_files(db)
    assert len(kept) == 1 and sha(kept[0]) == original  # the damaged file, byte for byte
    conn = sqlite3.connect(ro_uri(db), uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM sale").fetchone()[0] == sales.recovered_rows
    conn.close()
    assert [p.name for p in tmp_path.iterdir() if "repair" in p.name] == []
