"""Damage found by the background check after start-up stops the till at once, before any read trips on it."""

from __future__ import annotations

import sqlite3
import time

import pytest
from playwright.sync_api import expect

from tests.helpers.sqlite import sha

pytestmark = pytest.mark.browser


def _damage_the_middle_of_a_big_table(db) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob TEXT)")
        conn.executemany("INSERT INTO ballast (blob) VALUES (?)", [("b" * 1500,) for _ in range(4000)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    for page in range(pages * 2 // 3, pages * 2 // 3 + 4):  # leaf pages of the ballast table, nothing the till reads
        data[page * 4096 + 8 : page * 4096 + 300] = b"\xa5" * 292
    db.write_bytes(bytes(data))


def test_damage_found_in_the_background_switches_to_the_corruption_page(v1_shop, launch, page):
    _damage_the_middle_of_a_big_table(v1_shop.db)
    app = launch(v1_shop, "v1")
    page.goto(app.url)
    corrupt = page.get_by_role("heading", name="Database Corruption Detected")
    deadline = time.monotonic() + 60
    while True:  # no request reads the damaged pages: only the background check can find them
        page.goto(app.base + "/")
        page.wait_for_load_state("networkidle")
        if corrupt.count():
            break
        assert time.monotonic() < deadline, page.inner_text("body")
        page.wait_for_timeout(300)
    found = sha(v1_shop.db)
    # Every page now leads to the corruption page; nothing more is written to the damaged file.
    for path in ("/", "/admin/", "/till/"):
        page.goto(app.base + path)
        expect(corrupt).to_be_visible()
    expect(page.get_by_role("button", name="Backup & Start Fresh")).to_be_visible()
    assert sha(v1_shop.db) == found
