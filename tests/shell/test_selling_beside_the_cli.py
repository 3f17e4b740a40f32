"""A till selling over loopback HTTP while a terminal runs the writing commands: no sale is lost.

Before the maintenance lock, a failing `upgrade_db` from a terminal restored
its backup under the running till (25 of 47 sales gone in one run), and
`restore_db` lost the sales committed between its restore point and its swap.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.helpers.sqlite import ro_uri
from tests.helpers.till_http import demo_credentials, open_till

pytestmark = pytest.mark.slow


def _paid_orders(db: Path) -> list[int]:
    conn = sqlite3.connect(ro_uri(db), uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM pos_order WHERE status = 'paid' ORDER BY id")]
    finally:
        conn.close()


def test_commands_beside_a_selling_till_are_refused_and_every_sale_stays(v1_shop, launch):
    app = launch(v1_shop, "v1")
    app.wait_for("Cashier  till PIN")
    creds = demo_credentials(app.output)
    window, staff = open_till(app)
    assert window.form("/signin/", {"staff": staff["Casey Cashier"], "pin": creds["cashier_pin"]})[1] == "/"
    product = re.search(r'name="product" value="(\d+)"', window.request("/")[2]).group(1)
    backup = v1_shop.manage("backup_db", chain="v1")  # a read: allowed beside the app
    assert backup.returncode == 0, backup.stderr

    receipts: list[str] = []
    stop = threading.Event()
    errors: list[str] = []

    def sell() -> None:
        while not stop.is_set() and len(receipts) < 200:
            status, final, page = window.form("/order/add/", {"product": product}, form_page="/")
            if status != 200:
                errors.append(f"add: {status} {final}")
                return
            status, final, page = window.form("/order/pay/", {"method": "card"}, form_page="/")
            if status != 200 or not final.startswith("/receipt/"):
                errors.append(f"pay: {status} {final} {page[:200]}")
                return
            receipts.append(final.rstrip("/").rsplit("/", 1)[-1])

    seller = threading.Thread(target=sell)
    seller.start()
    try:
        results = {
            "upgrade_db": v1_shop.manage("upgrade_db", "--json", chain="fail2"),
            "restore_db": v1_shop.manage("restore_db", backup.stdout.strip(), chain="v1"),
            "accept_migration": v1_shop.manage("accept_migration", "pos", "0001_initial", "--reason", "x", chain="v1"),
        }
    finally:
        stop.set()
        seller.join(timeout=60)
    assert errors == []
    for name, proc in results.items():
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert f"AurSwift is running (process {app.proc.pid})" in proc.stdout + proc.stderr, name
    assert len(receipts) >= 3, "the till kept selling while the commands ran"
    assert len(set(receipts)) == len(receipts)  # no order number printed twice
    paid = _paid_orders(v1_shop.db)
    assert [str(pk) for pk in paid[-len(receipts) :]] == receipts  # every sale is in the live database
    assert "colour" not in v1_shop.columns("shopext_widget")  # the failing upgrade never ran
