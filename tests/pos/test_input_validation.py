"""Every till form field, posted with what a slip of the finger, a scanner or a tampered form can send.

Never a server error, always a message, and no money moves: order totals,
lines, payments and refunds in the database are exactly as they were.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from pos.models import Order, OrderLine, Payment, Product, Refund, StaffProfile, Table, ZReport

HUGE = "9" * 29
NOT_IDS = ["abc", "", " ", "-1", "0", "1.5", "1e999999", HUGE, str(2**63), "9,50", "٣", "\x00", "x" * 5000]
NOT_AMOUNTS = [
    "abc",
    "",
    " ",
    "-1",
    "1e999999",
    HUGE,
    "1000000.01",
    "1,234",
    "1,234.50",
    "1.234,50",
    "1.234",
    "NaN",
    "inf",
    "٣",
    "\x00",
    "x" * 5000,
    "9,50",  # a real amount, but short of the £10.30 total
]
NOT_QUANTITIES = ["abc", "", " ", "-1", "1.5", "1e999999", HUGE, str(2**63), "1000", "9,50", "٣", "\x00"]


def _money_state() -> tuple:
    """Everything money: orders' status and totals, their lines, payments, refunds, Z reports."""
    return (
        sorted(Order.objects.values_list("pk", "status", "total_minor", "vat_minor")),
        sorted(OrderLine.objects.values_list("pk", "order_id", "quantity", "line_total_minor", "vat_minor")),
        sorted(Payment.objects.values_list("pk", "amount_minor", "tendered_minor", "change_minor")),
        sorted(Refund.objects.values_list("pk", "amount_minor")),
        ZReport.objects.count(),
    )


@pytest.fixture
def basket(cashier_client) -> Order:
    """An open order of £10.30: 2 × Cappuccino (3.40) and 1 × Latte (3.50)."""
    cashier_client.raise_request_exception = False  # a 500 comes back as a response, to be reported
    for name in ["Cappuccino", "Cappuccino", "Latte"]:
        cashier_client.post("/order/add/", {"product": Product.objects.get(name=name).pk})
    order = Order.objects.get()
    assert (order.status, order.total_minor) == ("open", 1030)
    return order


def _malformed_posts(order: Order) -> list[tuple[str, dict[str, str]]]:
    line = order.lines.first()
    cashier = StaffProfile.objects.get(user__username="cashier")
    posts: list[tuple[str, dict[str, str]]] = []
    for value in NOT_IDS:
        posts.append(("/signin/", {"staff": value, "pin": "1234"}))
        posts.append(("/order/add/", {"product": value}))
        if value:  # "/order/line//" is no page at all (404), not a form value
            posts.append((f"/order/line/{quote(value, safe='')}/", {"quantity": "1"}))
        if value.strip():  # an empty table is "no table", a real choice
            posts.append(("/order/table/", {"table": value}))
        posts.append(("/order/pay/", {"method": value, "tendered": "50"}))
    for value in NOT_QUANTITIES:
        posts.append((f"/order/line/{line.pk}/", {"quantity": value}))
        posts.append(("/signin/", {"staff": str(cashier.pk), "pin": value}))
    for value in NOT_AMOUNTS:
        posts.append(("/order/pay/", {"method": "cash", "tendered": value}))
    for value in ["", "\x00", "x" * 5000, "\x1b[2J"]:
        posts.append(("/order/scan/", {"code": value}))
    manager = StaffProfile.objects.get(user__username="manager")
    for value in ["x" * 201, "\x00", "late\nnight"]:
        posts.append(("/order/void/", {"reason": value}))
        posts.append((f"/order/line/{line.pk}/void/", {"reason": value}))
    for value in NOT_IDS:
        posts.append(("/order/void/", {"reason": "r", "approver": value, "approver_pin": "1234"}))
        posts.append((f"/order/line/{line.pk}/void/", {"reason": "r", "approver": value, "approver_pin": "1234"}))
        if value:
            posts.append((f"/order/line/{quote(value, safe='')}/void/", {"reason": "r"}))
        posts.append(("/order/resume/", {"order": value}))
        posts.append(("/order/tab/", {"table": value}))
    for value in NOT_QUANTITIES:
        if value.isascii() and value.isdigit() and 4 <= len(value) <= 8:
            continue  # a well-formed PIN could be the manager's real one
        posts.append(("/order/void/", {"reason": "r", "approver": str(manager.pk), "approver_pin": value}))
    return posts


def test_malformed_values_in_every_till_field_give_a_message_and_move_no_money(cashier_client, basket):
    before = _money_state()
    failures = []
    posts = _malformed_posts(basket)
    for path, data in posts:
        response = cashier_client.post(path, data, follow=True)
        page = response.content.decode()
        shown = {k: (v if len(v) < 30 else v[:30] + "…") for k, v in data.items()}
        if response.status_code != 200:
            failures.append(f"{path} {shown}: HTTP {response.status_code}")
        elif 'class="msg-error"' not in page:
            failures.append(f"{path} {shown}: no message on the page")
        elif "Traceback" in page:
            failures.append(f"{path} {shown}: a traceback on the page")
        if _money_state() != before:
            failures.append(f"{path} {shown}: money changed")
            break
    assert not failures, "\n".join(failures)
    assert len(posts) > 100
    # and the cashier is still signed in, on the same basket
    assert "Cappuccino" in cashier_client.get("/").content.decode()


def test_every_post_endpoint_of_the_till_is_covered():
    from pos.urls import urlpatterns

    tested = {"signin", "add", "scan", "quantity", "table", "pay", "void", "void_line", "tab", "resume", "refund"}
    no_fields = {"signout", "z_report", "park"}  # nothing typed: nothing to validate
    get_only = {"till", "receipt", "x_report", "z_detail", "orders"}
    assert {p.name for p in urlpatterns} == tested | no_fields | get_only


def test_typing_a_decimal_comma_pays_nine_fifty_not_nine_hundred_and_fifty(cashier_client):
    cashier_client.post("/order/add/", {"product": Product.objects.get(name="Espresso").pk})  # 2.20
    response = cashier_client.post("/order/pay/", {"method": "cash", "tendered": "9,50"})
    payment = Payment.objects.get()
    assert response["Location"] == f"/receipt/{payment.order_id}/"
    assert (payment.amount_minor, payment.tendered_minor, payment.change_minor) == (220, 950, 730)
    assert 'id="receipt-change">£7.30<' in cashier_client.get(response["Location"]).content.decode()


def test_removing_a_line_twice_says_so_the_second_time(cashier_client, basket):
    latte = basket.lines.get(product_name="Latte")
    first = cashier_client.post(f"/order/line/{latte.pk}/", {"quantity": "0"}, follow=True)
    assert first.status_code == 200 and "msg-error" not in first.content.decode()
    after_first = _money_state()
    assert Order.objects.get().total_minor == 680
    for _ in range(2):  # the double tap, and one more
        again = cashier_client.post(f"/order/line/{latte.pk}/", {"quantity": "0"}, follow=True)
        assert again.status_code == 200
        assert "That item was already taken off the order." in again.content.decode()
        assert _money_state() == after_first


def test_a_double_tap_on_minus_takes_off_one(cashier_client, basket):
    cappuccino = basket.lines.get(product_name="Cappuccino")
    for _ in range(2):  # both taps post the quantity the page showed minus one
        cashier_client.post(f"/order/line/{cappuccino.pk}/", {"quantity": "1"})
    assert (Order.objects.get().total_minor, OrderLine.objects.get(pk=cappuccino.pk).quantity) == (690, 1)


def test_a_line_holds_at_most_999(cashier_client, basket):
    cappuccino = basket.lines.get(product_name="Cappuccino")
    cashier_client.post(f"/order/line/{cappuccino.pk}/", {"quantity": "999"})
    assert Order.objects.get().total_minor == 999 * 340 + 350
    before = _money_state()
    page = cashier_client.post("/order/add/", {"product": cappuccino.product_id}, follow=True).content.decode()
    assert "A line holds at most 999 of an item." in page
    page = cashier_client.post(f"/order/line/{cappuccino.pk}/", {"quantity": "1000"}, follow=True).content.decode()
    assert "Enter a whole number from 0 to 999." in page
    assert _money_state() == before


def test_a_line_of_another_order_cannot_be_changed(cashier_client, basket, demo_shop):
    other = Client()
    manager = StaffProfile.objects.get(user__username="manager")
    other.post("/signin/", {"staff": manager.pk, "pin": demo_shop.manager_pin})
    other.post("/order/add/", {"product": Product.objects.get(name="Mocha").pk})
    their_line = OrderLine.objects.get(product_name="Mocha")
    before = _money_state()
    page = cashier_client.post(f"/order/line/{their_line.pk}/", {"quantity": "0"}, follow=True).content.decode()
    assert "That item was already taken off the order." in page
    assert _money_state() == before


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "/ok\r\nSet-Cookie: x=1", "/a b", "/" + "a" * 3000],
)
def test_the_page_to_return_to_stays_on_the_till(cashier_client, demo_shop, target):
    product = Product.objects.get(name="Espresso")
    response = cashier_client.post("/order/add/", {"product": product.pk, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_category_page_is_returned_to_after_adding(cashier_client, demo_shop):
    product = Product.objects.get(name="Brownie")
    response = cashier_client.post("/order/add/", {"product": product.pk, "next": "/?category=4"})
    assert response["Location"] == "/?category=4"


def test_a_search_from_the_scan_box_keeps_its_characters(cashier_client, demo_shop):
    response = cashier_client.post("/order/scan/", {"code": "a&b=c#d"})
    assert response["Location"] == "/?q=a%26b%3Dc%23d"
    assert "Results for “a&amp;b=c#d”" in cashier_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("path", ["/receipt/99999999999999999999999/", "/receipt/0/", "/receipt/abc/"])
def test_a_receipt_that_does_not_exist_is_not_found(cashier_client, path):
    cashier_client.raise_request_exception = False
    assert cashier_client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["?category=abc", f"?category={HUGE}", "?q=%00", f"?q={'x' * 3000}"])
def test_the_till_page_takes_any_filter(cashier_client, query):
    assert cashier_client.get("/" + query).status_code == 200


def test_a_table_that_does_not_exist_is_refused_and_a_real_one_is_set(cashier_client, basket):
    table = Table.objects.get(name="Table 3")
    page = cashier_client.post("/order/table/", {"table": HUGE}, follow=True).content.decode()
    assert "Choose a table from the list." in page
    cashier_client.post("/order/table/", {"table": str(table.pk)})
    assert Order.objects.get().table == table
    cashier_client.post("/order/table/", {"table": ""})
    assert Order.objects.get().table is None


def test_choosing_no_table_without_an_order_opens_no_order(cashier_client):
    cashier_client.post("/order/table/", {"table": ""})
    assert not Order.objects.exists()


def test_a_pin_of_letters_is_not_counted_as_a_guess(demo_shop, settings):
    settings.AURSWIFT_PIN_MAX_FAILURES = 2
    profile = StaffProfile.objects.get(user__username="cashier")
    client = Client()
    for _ in range(3):
        page = client.post("/signin/", {"staff": profile.pk, "pin": "12ab"}).content.decode()
        assert "A PIN is 4 to 8 digits." in page
    profile.refresh_from_db()
    assert profile.failed_pin_attempts == 0
    assert client.post("/signin/", {"staff": profile.pk, "pin": demo_shop.cashier_pin})["Location"] == "/"
