"""The app while it runs: a crashed run's lock, a database damaged under the till, repeated failures."""

from __future__ import annotations

import os
import signal

import pytest

from tests.helpers.app import screenshot, start_headless
from tests.helpers.sqlite import holding_write_lock

pytestmark = pytest.mark.browser


def test_lock_left_by_a_crashed_run_is_taken_over(app_env, data_dir, page):
    crashed = start_headless(app_env)
    crashed.wait_for("Cashier  till PIN")  # started up fully, then dies without cleaning up
    os.killpg(crashed.proc.pid, signal.SIGKILL)
    crashed.proc.wait()
    assert (data_dir / "aurswift.lock").exists() and (data_dir / "aurswift.instance.json").exists()
    app = start_headless(app_env)
    try:
        page.goto(app.url)
        page.wait_for_url("**/signin/")  # no "Database In Use": the dead process's lock was taken over
        assert f'"pid": {app.proc.pid}' in (data_dir / "aurswift.instance.json").read_text()
    finally:
        app.stop()


def test_database_damaged_while_the_till_runs_shows_the_corruption_page(app_env, data_dir, page):
    app = start_headless(app_env)
    try:
        page.goto(app.url)
        page.get_by_role("link", name="Open the till").click()
        page.wait_for_selector("text=Who is on the till?")
        db = data_dir / "pos_system.db"
        data = bytearray(db.read_bytes())
        for offset in range(4096, len(data), 4096):  # every page but the first
            data[offset + 8 : offset + 200] = b"\xa5" * 192
        db.write_bytes(bytes(data))
        for wal in data_dir.glob("pos_system.db-wal"):
            wal.write_bytes(b"")
        page.reload()
        page.wait_for_selector("text=Database Corruption Detected")
        assert "Your database appears to be corrupted." in page.inner_text("main")
        assert "Traceback" not in page.content()
        screenshot(page, "corruption-while-running")
    finally:
        app.stop()


def test_three_failed_start_up_attempts_end_on_a_final_page(app_env, data_dir, page):
    first = start_headless(app_env)  # create the database, then stop
    first.wait_for("Cashier  till PIN")
    first.stop()
    with holding_write_lock(data_dir / "pos_system.db"):
        app = start_headless(app_env)
        try:
            page.goto(app.url)
            for _ in range(2):
                page.wait_for_selector("text=Database In Use", timeout=60000)
                page.get_by_role("button", name="Retry", exact=True).click()
            page.wait_for_selector("text=AurSwift Could Not Start", timeout=60000)
            assert page.locator("button[data-action]").all_inner_texts() == ["Quit"]
            page.get_by_role("button", name="Quit", exact=True).click()
            page.wait_for_selector("text=AurSwift has closed")
            app.proc.wait(timeout=15)
        finally:
            app.stop()
