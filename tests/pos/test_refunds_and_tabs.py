"""Refunds with a manager's PIN, single-line voids, parked orders and table tabs, over HTTP.

Every amount is asserted in minor units from the database.
"""

from __future__ import annotations

import pytest
from django.test import Client

from pos.models import LineVoid, Order, OrderLine, Payment, Product, Refund, StaffProfile, Table
from pos.services import orders, reports


def _add(client: Client, name: str, times: int = 1) -> None:
    product = Product.objects.get(name=name)
    for _ in range(times):
        assert client.post("/order/add/", {"product": product.pk}).status_code == 302


def _approval(demo_shop, pin: str | None = None) -> dict[str, str]:
    manager = StaffProfile.objects.get(user__username="manager")
    return {"approver": str(manager.pk), "approver_pin": pin or demo_shop.manager_pin}


def _wrong(pin: str) -> str:
    return "0000" if pin != "0000" else "1111"


def _paid(client: Client, items: list[tuple[str, int]], method: str = "card") -> Order:
    for name, times in items:
        _add(client, name, times)
    response = client.post("/order/pay/", {"method": method, "tendered": "100"})
    return Order.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def test_refund_of_one_line_needs_a_manager_pin(cashier_client, demo_shop):
    order = _paid(cashier_client, [("Cappuccino", 2), ("Coffee beans 250g", 1)], method="cash")  # 680 + 899
    assert (order.total_minor, order.vat_minor) == (1579, 113)
    beans = order.lines.get(product_name="Coffee beans 250g")
    cappuccino = order.lines.get(product_name="Cappuccino")
    page = cashier_client.get(f"/receipt/{order.pk}/refund/").content.decode()
    assert "Refund order #" in page and "Manager PIN" in page

    data = {f"qty_{cappuccino.pk}": "1", "method": "cash", "reason": "spilt"}
    wrong = cashier_client.post(
        f"/receipt/{order.pk}/refund/", {**data, **_approval(demo_shop, _wrong(demo_shop.manager_pin))}, follow=True
    )
    assert "Manager approval: Wrong PIN." in wrong.content.decode()
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == "paid"

    response = cashier_client.post(f"/receipt/{order.pk}/refund/", {**data, **_approval(demo_shop)})
    assert response["Location"] == f"/receipt/{order.pk}/"
    refund = Refund.objects.get()
    manager = StaffProfile.objects.get(user__username="manager").user
    assert (refund.amount_minor, refund.vat_minor, refund.method, refund.reason) == (340, 57, "cash", "spilt")
    assert (refund.approved_by, refund.refunded_by.username) == (manager, "cashier")
    assert list(refund.lines.values_list("order_line_id", "quantity", "amount_minor")) == [(cappuccino.pk, 1, 340)]
    order.refresh_from_db()
    assert order.status == "paid"  # partly refunded: still paid

    receipt = cashier_client.get(f"/receipt/{order.pk}/").content.decode()
    assert "1 × Cappuccino" in receipt and "−£3.40" in receipt

    report = reports.x_report()
    assert (report.gross_minor, report.refunds_minor, report.net_minor) == (1579, 340, 1239)
    assert (report.refunds_vat_minor, report.net_vat_minor, report.cash_in_drawer_minor) == (57, 56, 1239)
    page = cashier_client.get("/reports/x/").content.decode()
    assert 'id="x-refunds">£3.40<' in page and 'id="x-net">£12.39<' in page and "spilt" in page

    # the rest, by card: the order is then refunded in full, and the parts add up to the totals exactly
    response = cashier_client.post(
        f"/receipt/{order.pk}/refund/", {"whole": "1", "method": "card", "reason": "unhappy", **_approval(demo_shop)}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "refunded"
    assert sum(Refund.objects.values_list("amount_minor", flat=True)) == order.total_minor
    assert sum(Refund.objects.values_list("vat_minor", flat=True)) == order.vat_minor
    assert beans.refunds.get().amount_minor == 899


def test_refunding_more_than_was_sold_is_refused(cashier_client, demo_shop):
    order = _paid(cashier_client, [("Latte", 1)])
    line = order.lines.get()
    page = cashier_client.post(
        f"/receipt/{order.pk}/refund/",
        {f"qty_{line.pk}": "2", "method": "card", "reason": "x", **_approval(demo_shop)},
        follow=True,
    ).content.decode()
    assert "at most 1 can be refunded" in page
    for data in [{f"qty_{line.pk}": "abc"}, {f"qty_{line.pk}": "0"}, {"method": "cheque", f"qty_{line.pk}": "1"}]:
        response = cashier_client.post(
            f"/receipt/{order.pk}/refund/", {"method": "card", "reason": "x", **data, **_approval(demo_shop)}
        )
        assert response.status_code == 200 and 'class="msg-error"' in response.content.decode()
    assert not Refund.objects.exists()


def test_partial_refunds_of_a_line_add_up_to_its_amounts(demo_shop):
    cashier = StaffProfile.objects.get(user__username="cashier").user
    order = orders.open_order(cashier)
    line = orders.add_product(order, Product.objects.get(name="Croissant"), 3)  # 3 × 245 = 735, VAT 123 (122.5)
    orders.pay(order, "card", taken_by=cashier)
    first = orders.refund_lines(order, {line.pk: 1}, method="card", reason="a", by=cashier)
    second = orders.refund_lines(order, {line.pk: 2}, method="cash", reason="b", by=cashier)
    assert (first.amount_minor + second.amount_minor, first.vat_minor + second.vat_minor) == (735, 123)
    order.refresh_from_db()
    assert order.status == "refunded"


def test_a_single_line_void_needs_a_manager_and_is_recorded(cashier_client, demo_shop):
    _add(cashier_client, "Latte", 2)
    _add(cashier_client, "Brownie")
    latte = OrderLine.objects.get(product_name="Latte")
    assert "Void 2 × Latte" in cashier_client.get(f"/?void_line={latte.pk}").content.decode()
    page = cashier_client.post(
        f"/order/line/{latte.pk}/void/",
        {"reason": "wrong milk", **_approval(demo_shop, _wrong(demo_shop.manager_pin))},
        follow=True,
    ).content.decode()
    assert "Manager approval: Wrong PIN." in page
    assert Order.objects.get().total_minor == 995
    cashier_client.post(f"/order/line/{latte.pk}/void/", {"reason": "wrong milk", **_approval(demo_shop)})
    order = Order.objects.get()
    assert (order.total_minor, order.vat_minor, order.lines.count()) == (295, 49, 1)
    void = LineVoid.objects.get()
    assert (void.product_name, void.quantity, void.amount_minor, void.reason) == ("Latte", 2, 700, "wrong milk")
    assert reports.x_report().line_void_minor == 700


def test_two_parked_orders_and_two_tabs_are_paid_in_another_order(cashier_client, demo_shop):
    t1, t2 = Table.objects.get(name="Table 1"), Table.objects.get(name="Table 2")
    _add(cashier_client, "Espresso")  # 220
    cashier_client.post("/order/park/")
    _add(cashier_client, "Mocha", 2)  # 760
    cashier_client.post("/order/park/")
    cashier_client.post("/order/tab/", {"table": t1.pk})
    assert not Order.objects.filter(table=t1).exists()  # no empty order for a table chosen with nothing on it
    _add(cashier_client, "Full breakfast")  # 995
    cashier_client.post("/order/tab/", {"table": t2.pk})
    _add(cashier_client, "Porridge")  # 375
    _add(cashier_client, "Cola")  # 210
    assert Order.objects.filter(status="open").count() == 4
    page = cashier_client.get("/?view=tables").content.decode()
    assert "Open · #" in page and "Open orders (3)" in page

    espresso, mocha = (Order.objects.get(lines__product_name=n) for n in ["Espresso", "Mocha"])
    tab1, tab2 = Order.objects.get(table=t1), Order.objects.get(table=t2)
    assert (tab1.total_minor, tab2.total_minor) == (995, 585)

    # pay table 2 (on screen), then the second parked order, table 1, the first parked order
    cashier_client.post("/order/pay/", {"method": "cash", "tendered": "10"})
    cashier_client.post("/order/resume/", {"order": mocha.pk})
    cashier_client.post("/order/pay/", {"method": "card"})
    cashier_client.post("/order/tab/", {"table": t1.pk})
    cashier_client.post("/order/pay/", {"method": "cash", "quick": "1000"})
    cashier_client.post("/order/resume/", {"order": espresso.pk})
    cashier_client.post("/order/pay/", {"method": "cash", "quick": "exact"})

    paid = {p.order_id: (p.method, p.amount_minor, p.tendered_minor, p.change_minor) for p in Payment.objects.all()}
    assert paid == {
        tab2.pk: ("cash", 585, 1000, 415),
        mocha.pk: ("card", 760, None, 0),
        tab1.pk: ("cash", 995, 1000, 5),
        espresso.pk: ("cash", 220, 220, 0),
    }
    assert list(Order.objects.order_by("paid_at").values_list("pk", flat=True)) == [
        tab2.pk,
        mocha.pk,
        tab1.pk,
        espresso.pk,
    ]
    assert not Order.objects.filter(status="open").exists()
    vat = dict(Order.objects.values_list("pk", "vat_minor"))
    assert vat == {espresso.pk: 37, mocha.pk: 127, tab1.pk: 166, tab2.pk: 63 + 35}  # 220, 760, 995, 375 + 210 at 20 %


def test_a_table_with_a_tab_cannot_take_a_second_order(cashier_client, demo_shop):
    t1 = Table.objects.get(name="Table 1")
    cashier_client.post("/order/tab/", {"table": t1.pk})
    _add(cashier_client, "Espresso")
    cashier_client.post("/order/park/")
    _add(cashier_client, "Latte")
    page = cashier_client.post("/order/table/", {"table": t1.pk}, follow=True).content.decode()
    assert "Table 1 already has an open tab" in page
    assert Order.objects.filter(table=t1).count() == 1


def test_no_empty_orders_are_left_behind(cashier_client, demo_shop):
    latte = Product.objects.get(name="Latte")
    cashier_client.post("/order/add/", {"product": latte.pk})
    line = OrderLine.objects.get()
    cashier_client.post(f"/order/line/{line.pk}/", {"quantity": "0"})
    cashier_client.post("/order/park/")
    cashier_client.post("/order/tab/", {"table": Table.objects.get(name="Table 4").pk})
    cashier_client.post("/order/tab/", {"table": Table.objects.get(name="Table 5").pk})
    cashier_client.post("/signout/")
    assert not Order.objects.exists()


def test_shift_change_keeps_the_open_order_for_the_next_person(cashier_client, demo_shop):
    _add(cashier_client, "Latte")
    manager = StaffProfile.objects.get(user__username="manager")
    response = cashier_client.post("/signin/", {"staff": manager.pk, "pin": demo_shop.manager_pin})
    assert response["Location"] == "/"
    page = cashier_client.get("/").content.decode()
    assert "New order" in page and "Open orders (1)" in page
    order = Order.objects.get()
    cashier_client.post("/order/resume/", {"order": order.pk})
    cashier_client.post("/order/pay/", {"method": "card"})
    payment = Payment.objects.get()
    assert (payment.amount_minor, payment.taken_by) == (350, manager.user)


def test_an_empty_pin_is_not_counted_and_keeps_the_name(demo_shop, settings):
    settings.AURSWIFT_PIN_MAX_FAILURES = 2
    profile = StaffProfile.objects.get(user__username="manager")
    client = Client()
    for _ in range(3):
        page = client.post("/signin/", {"staff": profile.pk, "pin": ""}).content.decode()
        assert "Type your PIN, then press Sign in." in page
        assert f'value="{profile.pk}" checked' in page
    profile.refresh_from_db()
    assert profile.failed_pin_attempts == 0


def test_an_unknown_barcode_says_so_and_a_search_leaves_the_box_empty(cashier_client, demo_shop):
    page = cashier_client.post("/order/scan/", {"code": "5099999999999"}, follow=True).content.decode()
    assert "Barcode not found: 5099999999999." in page
    assert not Order.objects.exists()
    page = cashier_client.get("/?q=latte").content.decode()
    assert 'id="scan" name="code"' in page and 'value="latte"' not in page
    brownie = Product.objects.get(name="Brownie")
    response = cashier_client.post("/order/scan/", {"code": brownie.barcode, "next": "/?q=latte"})
    assert response["Location"] == "/?q=latte"
    assert Order.objects.get().total_minor == 295


def test_change_due_is_shown_after_a_cash_payment(cashier_client, demo_shop):
    _add(cashier_client, "Espresso")
    response = cashier_client.post("/order/pay/", {"method": "cash", "quick": "500"})
    page = cashier_client.get(response["Location"]).content.decode()
    assert 'id="change-due-banner">£2.80<' in page
    assert "change-due-banner" not in cashier_client.get(response["Location"]).content.decode()  # a reprint


def test_a_closed_z_report_is_a_readable_page(cashier_client, demo_shop):
    order = _paid(cashier_client, [("Mocha", 1)], method="cash")
    manager_user = StaffProfile.objects.get(user__username="manager").user
    orders.refund_order(order, manager_user, "cold", method="cash")
    z = reports.close_z_report(manager_user)
    page = cashier_client.get(f"/reports/z/{z.pk}/").content.decode()
    assert 'id="z-gross">£3.80<' in page and 'id="z-refunds">£3.80<' in page and 'id="z-net">£0.00<' in page
    assert 'id="z-drawer">£0.00<' in page and "cold" in page and "{" not in page.split("<main>")[1]


def test_past_orders_list_links_receipts_and_refunds(cashier_client, demo_shop):
    order = _paid(cashier_client, [("Latte", 1)])
    page = cashier_client.get("/orders/").content.decode()
    assert f"/receipt/{order.pk}/refund/" in page
    assert cashier_client.get(f"/orders/?n={order.pk}")["Location"] == f"/receipt/{order.pk}/"
    assert "No receipt #abc" in cashier_client.get("/orders/?n=abc", follow=True).content.decode()


@pytest.mark.parametrize("path", ["/orders/", "/reports/z/1/", "/receipt/1/refund/"])
def test_new_till_pages_need_a_pin_sign_in(db, path):
    assert Client().get(path)["Location"] == "/signin/"
