"""The server keeps a database connection in each thread; a file put in the database's place is what they read next."""

from __future__ import annotations

import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from tests.helpers.sqlite import ro_uri
from tests.helpers.till_http import TillBrowser, demo_credentials, open_till

pytestmark = pytest.mark.slow


def _in_every_thread(window: TillBrowser, path: str, times: int = 36) -> list[tuple[int, str]]:
    """Ask for ``path`` from several tabs at once, so every server thread answers some: [(status, page)]."""

    def ask(_: int) -> tuple[int, str]:
        status, _final, page = window.clone().request(path)
        return status, page

    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(ask, range(times)))


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(ro_uri(db), uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_database_file_replaced_under_the_running_till_is_what_every_request_reads(headless_app, data_dir):
    headless_app.wait_for("Cashier  till PIN")
    pins = demo_credentials(headless_app.output)
    window, staff = open_till(headless_app)
    assert window.form("/signin/", {"staff": staff["Casey Cashier"], "pin": pins["cashier_pin"]})[1] == "/"
    assert {status for status, _ in _in_every_thread(window, "/")} == {200}  # every thread has a connection now
    db = data_dir / "pos_system.db"
    earlier = data_dir / "earlier.db"
    with closing(sqlite3.connect(ro_uri(db), uri=True)) as source, closing(sqlite3.connect(earlier)) as copy:
        source.backup(copy)  # the shop as it was: what a restore will put back

    latte = re.search(r'name="product" value="(\d+)"[^>]*data-name="Latte"', window.request("/")[2])
    assert latte
    window.form("/order/add/", {"product": latte.group(1)}, form_page="/")
    status, receipt, page = window.form("/order/pay/", {"method": "card"}, form_page="/")
    assert status == 200 and receipt.startswith("/receipt/") and 'id="receipt-total">£3.50<' in page
    assert {status for status, _ in _in_every_thread(window, receipt)} == {200}

    # What a restore does, between requests: the log and the file are replaced by the earlier copy.
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    os.replace(earlier, db)

    answers = _in_every_thread(window, receipt)
    assert {status for status, _ in answers} == {404}, [status for status, _ in answers]  # no thread reads the old file
    window.form("/order/add/", {"product": latte.group(1)}, form_page="/")
    window.form("/order/add/", {"product": latte.group(1)}, form_page="/")
    status, again, page = window.form("/order/pay/", {"method": "cash", "tendered": "10"}, form_page="/")
    assert status == 200 and 'id="receipt-total">£7.00<' in page and 'id="receipt-change">£3.00<' in page
    assert {status for status, _ in _in_every_thread(window, again)} == {200}
    assert _rows(db, "SELECT o.total_minor, p.method FROM pos_order o JOIN pos_payment p ON p.order_id = o.id") == [
        (700, "cash")
    ]  # the sale is in the file now at the database's place, and only that one
