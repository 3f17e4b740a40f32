"""A real Chromium rings up a sale on the till served by the headless launcher."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "test-output" / "screenshots"


def _cashier_pin(output: list[str]) -> str:
    match = re.search(r"Cashier\s+till PIN: (\d+)", "\n".join(output))
    assert match, output
    return match.group(1)


def _basket_saved(page) -> None:
    """Wait until every basket tap has its answer on screen (the till's script sets aria-busy meanwhile)."""
    page.wait_for_selector("body:not([aria-busy])", state="attached")


def test_cashier_rings_up_a_cash_sale(headless_app, page, tmp_path: Path):
    page.goto(headless_app.url)
    page.wait_for_selector("text=Welcome to AurSwift")
    assert _cashier_pin(headless_app.output) in page.inner_text("pre.credentials")
    page.get_by_role("link", name="Open the till").click()

    page.wait_for_selector("text=Who is on the till?")
    page.get_by_text("Casey Cashier").click()
    for digit in _cashier_pin(headless_app.output):
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_selector("text=Tap a product or scan a barcode to start.")
    page.evaluate("window.samePage = true")
    page.locator("button.product[data-name=Cappuccino]").click()
    page.locator("button.product[data-name=Cappuccino]").click()  # tapped before the first one's answer
    _basket_saved(page)
    assert page.evaluate("window.samePage === true")  # the basket was swapped in: no new page
    assert page.evaluate("document.activeElement.id") == "scan"  # ready for the next scan
    assert page.inner_text("#order-total") == "£6.80"
    page.locator("button.product[data-name=Cappuccino]").click()
    page.get_by_role("link", name="Cakes").click()  # waits for the tap before it to be saved
    page.locator("button.product[data-name=Brownie]").click()
    _basket_saved(page)
    page.get_by_role("button", name="One less Cappuccino").click()
    _basket_saved(page)
    assert page.inner_text("#order-total") == "£9.75"  # 2 × 3.40 + 2.95
    page.screenshot(path=str(tmp_path / "till-basket.png"))

    page.evaluate("window.samePage = true")  # (Cakes was a page of its own)
    page.get_by_role("button", name="£20.00").click()  # one tap: pays £20 in cash

    page.wait_for_selector("[aria-label=Receipt]")
    assert page.evaluate("window.samePage === true")  # the receipt came with the payment: no second page load
    assert re.search(r"/receipt/\d+/$", page.url) and page.title().startswith("Receipt #")
    assert page.inner_text("#receipt-total") == "£9.75"
    assert page.inner_text("#receipt-change") == "£10.25"
    assert page.inner_text("#change-due-banner") == "£10.25"  # change due, big, above the receipt
    receipt = page.inner_text("[aria-label=Receipt]")
    assert "2 × Cappuccino" in receipt and "1 × Brownie" in receipt and "AurSwift Demo Café" in receipt
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "till-receipt.png"), full_page=True)
    page.screenshot(path=str(tmp_path / "till-receipt.png"), full_page=True)

    receipt_url = page.url
    page.go_back()  # the till, as it was left: the order is paid
    page.wait_for_selector("text=Tap a product or scan a barcode to start.")
    page.go_forward()
    page.wait_for_selector("[aria-label=Receipt]")
    assert page.url == receipt_url and page.inner_text("#receipt-total") == "£9.75"
    assert page.locator("#change-due-banner").count() == 0  # the change due is shown once, when paid

    page.get_by_role("link", name="Next customer").click()
    page.get_by_role("link", name="X report").click()
    assert page.inner_text("#x-count") == "1" and page.inner_text("#x-cash") == "£9.75"
