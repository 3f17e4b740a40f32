"""A restore never replaces the database under a request that is still writing a sale."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from maintenance import exceptions
from maintenance.db import backups, recovery
from maintenance.db.swap_gate import SwapGate
from maintenance.db.swap_gate import gate as app_gate
from tests.helpers.shop import config_for


def test_exclusive_waits_for_requests_in_flight_and_holds_new_ones():
    gate = SwapGate()
    events: list[str] = []
    in_flight, swapping = threading.Event(), threading.Event()

    def request_in_flight() -> None:
        with gate.shared():
            in_flight.set()
            time.sleep(0.3)
            events.append("sale committed")

    def request_arriving_during_the_swap() -> None:
        swapping.wait()
        with gate.shared():
            events.append("next request served")

    threads = [threading.Thread(target=request_in_flight), threading.Thread(target=request_arriving_during_the_swap)]
    for thread in threads:
        thread.start()
    in_flight.wait()
    with gate.exclusive():
        events.append("swap started")
        swapping.set()
        time.sleep(0.3)
        events.append("swap finished")
    for thread in threads:
        thread.join()
    assert events == ["sale committed", "swap started", "swap finished", "next request served"]
    assert gate.requests_in_flight() == 0


def test_the_restoring_request_may_already_hold_the_gate():
    gate = SwapGate()
    with gate.shared(), gate.exclusive(timeout=1):
        assert gate.requests_in_flight() == 1


def test_a_request_that_never_ends_refuses_the_restore_and_reopens_the_gate():
    gate = SwapGate()
    release = threading.Event()
    holding = threading.Event()

    def stuck_request() -> None:
        with gate.shared():
            holding.set()
            release.wait()

    thread = threading.Thread(target=stuck_request)
    thread.start()
    holding.wait()
    with pytest.raises(exceptions.DatabaseLockedError, match="the database was not replaced"), gate.exclusive(0.3):
        pass
    served = threading.Event()

    def next_request() -> None:
        with gate.shared():
            served.set()

    threading.Thread(target=next_request).start()
    assert served.wait(2), "the gate stayed closed after a refused restore"
    release.set()
    thread.join()


def test_a_sale_written_while_the_restore_starts_is_kept_in_the_restore_point(live_db: Path, tmp_path: Path):
    db = live_db
    chosen = backups.create_backup(db, tmp_path / "backups", reason="manual")

    gate = SwapGate()
    started = threading.Event()

    def till_request() -> None:
        with gate.shared():
            started.set()
            time.sleep(0.3)  # the manager presses Restore now
            till = sqlite3.connect(db)
            till.execute("INSERT INTO sale (total_minor) VALUES (250)")
            till.commit()
            till.close()

    thread = threading.Thread(target=till_request)
    thread.start()
    started.wait()
    with gate.exclusive():
        point = recovery.restore_from_backup(chosen.path, config_for(db, tmp_path))
    thread.join()

    def totals(path: Path) -> list[int]:
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [row[0] for row in reader.execute("SELECT total_minor FROM sale ORDER BY id")]
        finally:
            reader.close()

    assert point is not None and totals(point.path) == [*range(1000), 250]  # the sale is in the restore point
    assert totals(db) == list(range(1000))  # and the live database is the chosen backup


def test_a_request_waits_at_the_door_while_a_restore_holds_the_gate(client):
    """Through the real middleware stack: a request arriving mid-swap is served only after it."""
    served = threading.Event()
    responses = []

    def request() -> None:
        responses.append(client.get("/startup/status/"))
        served.set()

    with app_gate.exclusive():
        worker = threading.Thread(target=request)
        worker.start()
        assert not served.wait(0.5)  # held at the door while the database is being replaced
    assert served.wait(10)
    worker.join()
    assert responses[0].status_code == 200 and responses[0].json()["status"] == "ready"
