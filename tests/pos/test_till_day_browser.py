"""A whole day on the till in a real Chromium at 1024×768, served by the headless launcher.

Shift changes, a refund of one line with a manager's PIN, parked orders and
table tabs, scanning after a search, and a long basket with Pay on screen.
Every flow's totals, VAT and change are read back from the database in minor units.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.app import REPO_ROOT

pytestmark = pytest.mark.browser
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SMALL = {"width": 1024, "height": 768}


def _pins(output: list[str]) -> dict[str, str]:
    text = "\n".join(output)
    manager = re.search(r"Manager\s+admin login: .*till PIN: (\d+)", text)
    cashier = re.search(r"Cashier\s+till PIN: (\d+)", text)
    assert manager and cashier, output
    return {"manager": manager.group(1), "cashier": cashier.group(1)}


def _db(data_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{data_dir / 'pos_system.db'}?mode=ro", uri=True)
    return conn


def _rows(data_dir: Path, sql: str, *args) -> list[tuple]:
    with _db(data_dir) as conn:
        return conn.execute(sql, args).fetchall()


def _open_till(app, page) -> dict[str, str]:
    page.set_viewport_size(SMALL)
    page.goto(app.url)
    page.wait_for_selector("text=Welcome to AurSwift")
    page.get_by_role("link", name="Open the till").click()
    page.wait_for_selector("text=Who is on the till?")
    return _pins(app.output)


def _sign_in(page, name: str, pin: str) -> None:
    page.wait_for_selector("text=Who is on the till?")
    page.wait_for_load_state("load")  # till.js is attached: a tap before it would not move the cursor
    page.get_by_text(name).click()
    expect(page.locator("#pin")).to_be_focused()  # the tile puts the cursor in the PIN box
    page.keyboard.type(pin)
    page.keyboard.press("Enter")
    page.wait_for_selector("#basket-title")


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=Who is on the till?")


def _tap(page, product: str) -> None:
    page.locator(f"button.product[data-name='{product}']").click()
    page.wait_for_load_state()
    page.wait_for_selector("body:not([aria-busy])", state="attached")  # the basket answered (fetch)


def _category(page, name: str) -> None:
    page.locator(".categories a", has_text=name).click()


def _total(page) -> str:
    return page.inner_text("#order-total")


def _pay_visible(page) -> None:
    size = page.viewport_size
    for name in ["Pay cash", "Pay card"]:
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None, name
        assert box["x"] >= 0 and box["y"] >= 0, (name, box)
        assert box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"], (name, box)


def test_shift_change_cashier_to_manager_and_back(headless_app, page, data_dir):
    pins = _open_till(headless_app, page)
    page.wait_for_load_state("load")
    page.get_by_text("Casey Cashier").click()
    expect(page.locator("#pin")).to_be_focused()
    page.keyboard.press("Enter")  # no PIN yet: not sent, not a wrong attempt
    expect(page.locator("#pin")).to_be_focused()
    _sign_in(page, "Casey Cashier", pins["cashier"])
    _tap(page, "Cappuccino")  # 3.40
    page.get_by_role("button", name="£5.00").click()  # one tap pays
    assert page.inner_text("#change-due-banner") == "£1.60"
    page.get_by_role("link", name="Next customer").click()
    _sign_out(page)

    _sign_in(page, "Morgan Manager", pins["manager"])
    _category(page, "Food")
    _tap(page, "Club sandwich")  # 6.95
    page.get_by_role("button", name="Pay card").click()
    page.wait_for_selector("[aria-label=Receipt]")
    page.get_by_role("link", name="Next customer").click()
    _sign_out(page)

    _sign_in(page, "Casey Cashier", pins["cashier"])
    _category(page, "Cakes")
    _tap(page, "Brownie")  # 2.95
    page.fill("#tendered", "10,00")
    assert page.inner_text("#change-due") == "Change £7.05"  # shown before paying
    page.get_by_role("button", name="Pay cash").click()
    assert page.inner_text("#change-due-banner") == "£7.05"

    rows = _rows(
        data_dir,
        "SELECT u.username, o.total_minor, o.vat_minor, p.method, p.tendered_minor, p.change_minor "
        "FROM pos_order o JOIN pos_payment p ON p.order_id = o.id JOIN auth_user u ON u.id = p.taken_by_id "
        "ORDER BY o.id",
    )
    assert rows == [
        ("cashier", 340, 57, "cash", 500, 160),
        ("manager", 695, 116, "card", None, 0),
        ("cashier", 295, 49, "cash", 1000, 705),
    ]
    assert _rows(data_dir, "SELECT count(*) FROM pos_order WHERE status = 'open'") == [(0,)]


def test_refund_of_one_line_with_a_manager_pin(headless_app, page, data_dir):
    pins = _open_till(headless_app, page)
    _sign_in(page, "Casey Cashier", pins["cashier"])
    _tap(page, "Cappuccino")
    _tap(page, "Cappuccino")
    _tap(page, "Latte")
    assert _total(page) == "£10.30"
    page.get_by_role("button", name="Pay card").click()
    page.wait_for_selector("[aria-label=Receipt]")
    page.get_by_role("link", name="Refund…").click()

    page.get_by_label("Refund how many Cappuccino").fill("1")
    page.get_by_label("Cash").check()
    page.get_by_label("Refund reason").fill("spilt")
    wrong = "0000" if pins["manager"] != "0000" else "1111"
    page.get_by_label("Manager PIN").fill(wrong)
    page.get_by_role("button", name="Refund the chosen items").click()
    page.wait_for_selector("text=Manager approval: Wrong PIN.")
    assert _rows(data_dir, "SELECT count(*) FROM pos_refund") == [(0,)]
    assert _rows(data_dir, "SELECT status FROM pos_order") == [("paid",)]

    page.get_by_label("Refund how many Cappuccino").fill("1")
    page.get_by_label("Refund reason").fill("spilt")
    page.get_by_label("Manager PIN").fill(pins["manager"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "till-refund.png"))
    page.get_by_role("button", name="Refund the chosen items").click()
    page.wait_for_selector("text=Refunded £3.40 by cash.")
    assert "−£3.40" in page.inner_text("[aria-label=Receipt]")

    assert _rows(
        data_dir,
        "SELECT r.amount_minor, r.vat_minor, r.method, r.reason, u.username FROM pos_refund r "
        "JOIN auth_user u ON u.id = r.approved_by_id",
    ) == [(340, 57, "cash", "spilt", "manager")]
    assert _rows(data_dir, "SELECT status, total_minor, vat_minor FROM pos_order") == [("paid", 1030, 171)]
    page.goto(headless_app.base + "/reports/x/")
    assert page.inner_text("#x-refunds") == "£3.40" and page.inner_text("#x-net") == "£6.90"


def test_two_parked_orders_and_two_tabs_completed_in_another_order(headless_app, page, data_dir):
    pins = _open_till(headless_app, page)
    _sign_in(page, "Casey Cashier", pins["cashier"])
    _tap(page, "Espresso")  # 2.20
    page.get_by_role("button", name="Park").click()
    _tap(page, "Mocha")
    _tap(page, "Mocha")  # 7.60
    page.get_by_role("button", name="Park").click()
    page.get_by_role("link", name="Tables").click()
    page.locator("[data-table='Table 1']").click()
    assert page.inner_text("#basket-title") == "Table 1 · new tab"
    _category(page, "Food")
    _tap(page, "Full breakfast")  # 9.95
    page.get_by_role("link", name="Tables").click()
    page.locator("[data-table='Table 2']").click()
    _category(page, "Food")
    _tap(page, "Porridge")  # 3.75
    _category(page, "Cold drinks")
    _tap(page, "Cola")  # 2.10
    page.get_by_role("link", name="Tables").click()
    assert "Open" in page.inner_text("[data-table='Table 1']")
    assert page.locator(".open-orders .chip").count() == 3
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "till-tabs.png"))

    ids = dict(_rows(data_dir, "SELECT l.product_name, l.order_id FROM pos_orderline l"))
    espresso, mocha, tab1, tab2 = ids["Espresso"], ids["Mocha"], ids["Full breakfast"], ids["Porridge"]
    # Table 2 (on screen) by card, the second parked order in cash, Table 1 in cash, the first parked exact
    assert _total(page) == "£5.85"
    page.get_by_role("button", name="Pay card").click()
    page.get_by_role("link", name="Next customer").click()
    page.locator(f".chip[data-order='{mocha}']").click()
    page.get_by_role("button", name="£10.00").click()
    page.get_by_role("link", name="Next customer").click()
    page.get_by_role("link", name="Tables").click()
    page.locator("[data-table='Table 1']").click()
    page.fill("#tendered", "20")
    page.get_by_role("button", name="Pay cash").click()
    page.get_by_role("link", name="Next customer").click()
    page.locator(f".chip[data-order='{espresso}']").click()
    page.get_by_role("button", name="Exact").click()
    page.wait_for_selector("[aria-label=Receipt]")

    rows = _rows(
        data_dir,
        "SELECT o.id, o.total_minor, o.vat_minor, p.method, p.tendered_minor, p.change_minor "
        "FROM pos_order o JOIN pos_payment p ON p.order_id = o.id ORDER BY p.created_at, p.id",
    )
    assert rows == [
        (tab2, 585, 98, "card", None, 0),
        (mocha, 760, 127, "cash", 1000, 240),
        (tab1, 995, 166, "cash", 2000, 1005),
        (espresso, 220, 37, "cash", 220, 0),
    ]
    assert _rows(data_dir, "SELECT count(*) FROM pos_order") == [(4,)]  # no empty orders left behind


def test_a_scan_after_a_search(headless_app, page, data_dir):
    pins = _open_till(headless_app, page)
    _sign_in(page, "Casey Cashier", pins["cashier"])
    (barcode,) = _rows(data_dir, "SELECT barcode FROM pos_product WHERE name = 'Brownie'")[0]
    page.locator("#scan").type("latte")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Results for “latte”")
    assert page.input_value("#scan") == "" and page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type(barcode)  # the scanner types into the focused box and presses Enter
    page.keyboard.press("Enter")
    page.wait_for_selector("td.desc:has-text('Brownie')")
    assert page.input_value("#scan") == "" and page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type("5000000099999")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Barcode not found: 5000000099999.")
    assert page.input_value("#scan") == "" and page.evaluate("document.activeElement.id") == "scan"
    assert _rows(data_dir, "SELECT product_name, quantity, line_total_minor, vat_minor FROM pos_orderline") == [
        ("Brownie", 1, 295, 49)
    ]


def test_ten_lines_keep_pay_on_screen(headless_app, page, data_dir):
    pins = _open_till(headless_app, page)
    _sign_in(page, "Casey Cashier", pins["cashier"])
    for product in ["Espresso", "Americano", "Cappuccino", "Latte", "Flat white", "Mocha", "Hot chocolate"]:
        _tap(page, product)
    _category(page, "Cakes")
    for product in ["Carrot cake", "Brownie", "Lemon drizzle", "Scone with jam"]:
        _tap(page, product)
    assert page.locator("tr.line").count() == 11
    _pay_visible(page)
    assert page.evaluate(
        "document.documentElement.scrollHeight <= window.innerHeight"
    )  # the page itself does not scroll
    page.locator("tr.line").last.scroll_into_view_if_needed()
    assert page.locator("tr.line").last.is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "till-1024.png"))
    total = sum(r[0] for r in _rows(data_dir, "SELECT line_total_minor FROM pos_orderline"))
    assert total == 220 + 280 + 340 + 350 + 340 + 380 + 330 + 360 + 295 + 330 + 310
    assert _rows(data_dir, "SELECT total_minor, vat_minor FROM pos_order") == [(3535, 590)]

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.reload()
    _pay_visible(page)
    page.screenshot(path=str(SCREENSHOTS / "till-1920.png"))
    page.get_by_role("button", name="Pay card").click()
    page.wait_for_selector("[aria-label=Receipt]")
    assert _rows(data_dir, "SELECT status, total_minor FROM pos_order") == [("paid", 3535)]
