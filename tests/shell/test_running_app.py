"""The app while it runs: a crashed run's lock, a database damaged under the till, repeated failures."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
from pathlib import Path

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


def _damage_every_page_but_the_first(db: Path) -> None:
    data = bytearray(db.read_bytes())
    for offset in range(4096, len(data), 4096):
        data[offset + 8 : offset + 200] = b"\xa5" * 192
    db.write_bytes(bytes(data))


def _overwrite_the_header(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.write(b"NOT A DATABASE!!")


def _truncate(db: Path) -> None:
    os.truncate(db, 2 * 4096)


def _replace_by_another_file(db: Path) -> None:
    db.write_text("these are a shop's notes, not its database\n" * 500)


def _damage_the_users_table(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        root, size = conn.execute(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'auth_user'"
        ).fetchone()
    conn.close()
    with db.open("r+b") as handle:  # the table's root page: its header and cell pointers
        handle.seek((root - 1) * size)
        handle.write(b"\xa5" * 64)


DAMAGE = {
    "every page but the first": _damage_every_page_but_the_first,
    "header overwritten": _overwrite_the_header,
    "truncated": _truncate,
    "replaced by another file": _replace_by_another_file,
    "the users table": _damage_the_users_table,
}


@pytest.mark.parametrize(
    ("damage", "signed_in"),
    [("every page but the first", False), *((name, True) for name in DAMAGE)],
)
def test_database_damaged_while_the_till_runs_shows_the_corruption_page(app_env, data_dir, page, damage, signed_in):
    """Whatever the damage, and whoever is signed in: the next page is the corruption page, not a loop."""
    app = start_headless(app_env)
    try:
        app.wait_for("Cashier  till PIN")
        page.goto(app.url)
        page.get_by_role("link", name="Open the till").click()
        page.wait_for_selector("text=Who is on the till?")
        if signed_in:
            page.get_by_text("Casey Cashier").click()
            page.fill("#pin", re.search(r"Cashier\s+till PIN: (\d+)", "\n".join(app.output)).group(1))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("text=Casey")
            assert "/signin/" not in page.url
        db = data_dir / "pos_system.db"
        with contextlib.closing(sqlite3.connect(db)) as conn:  # everything written is in the file itself
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        DAMAGE[damage](db)
        page.reload()
        page.wait_for_selector("text=Database Corruption Detected")
        assert "Your database appears to be corrupted." in page.inner_text("main")
        assert "Traceback" not in page.content()
        if damage == "every page but the first":
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
