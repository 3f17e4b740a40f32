"""The till over HTTP: sign in, ring up, pay, receipt, X report; wrong PINs; void; Z report."""

from __future__ import annotations

import pytest
from django.test import Client

from pos.models import Order, Product, StaffProfile, Table
from pos.services import orders


def _add(client: Client, name: str, times: int = 1) -> None:
    product = Product.objects.get(name=name)
    for _ in range(times):
        assert client.post("/order/add/", {"product": product.pk}).status_code == 302


def test_full_sale_from_sign_in_to_x_report(cashier_client):
    _add(cashier_client, "Cappuccino", 2)  # 2 × 3.40 at 20 %
    _add(cashier_client, "Coffee beans 250g")  # 8.99 zero-rated
    table = Table.objects.get(name="Table 3")
    cashier_client.post("/order/table/", {"table": table.pk})

    page = cashier_client.get("/").content.decode()
    assert "2 × " not in page and "Cappuccino" in page and "£15.79" in page

    response = cashier_client.post("/order/pay/", {"method": "cash", "tendered": "20"})
    assert response.status_code == 302
    order = Order.objects.get()
    assert response["Location"] == f"/receipt/{order.pk}/"
    assert (order.status, order.total_minor, order.vat_minor, order.table) == ("paid", 1579, 113, table)

    receipt = cashier_client.get(response["Location"]).content.decode()
    assert "AurSwift Demo Café" in receipt and "VAT No. GB123456789" in receipt
    assert "2 × Cappuccino" in receipt and "1 × Coffee beans 250g" in receipt
    assert 'id="receipt-total">£15.79<' in receipt
    assert 'id="receipt-change">£4.21<' in receipt
    assert "Table 3" in receipt

    report = cashier_client.get("/reports/x/").content.decode()
    assert 'id="x-count">1<' in report
    assert 'id="x-gross">£15.79<' in report
    assert 'id="x-cash">£15.79<' in report
    assert "20%" in report and "0%" in report


def test_cash_short_of_the_total_is_refused(cashier_client):
    _add(cashier_client, "Full breakfast")  # 9.95
    response = cashier_client.post("/order/pay/", {"method": "cash", "tendered": "5"}, follow=True)
    assert "Cash tendered £5.00 is less than the total £9.95." in response.content.decode()
    assert Order.objects.get().status == "open"


def test_card_payment_and_quantity_changes(cashier_client):
    _add(cashier_client, "Latte", 3)
    line = Order.objects.get().lines.get()
    cashier_client.post(f"/order/line/{line.pk}/", {"quantity": "1"})
    assert Order.objects.get().total_minor == 350
    cashier_client.post("/order/pay/", {"method": "card"})
    order = Order.objects.get()
    assert order.status == "paid" and order.payments.get().method == "card"


def test_scanning_a_barcode_adds_the_product(cashier_client):
    product = Product.objects.get(name="Brownie")
    cashier_client.post("/order/scan/", {"code": product.barcode})
    assert Order.objects.get().lines.get().product_name == "Brownie"
    search = cashier_client.post("/order/scan/", {"code": "crois"})
    assert search["Location"] == "/?q=crois"
    assert "Croissant" in cashier_client.get("/?q=crois").content.decode()


def test_void_needs_a_manager_pin_and_keeps_the_order_as_void(cashier_client, demo_shop):
    _add(cashier_client, "Scone with jam")
    manager = StaffProfile.objects.get(user__username="manager")
    page = cashier_client.post("/order/void/", {"reason": "customer left"}, follow=True).content.decode()
    assert "Manager approval: Choose the manager who approves." in page
    wrong = "0000" if demo_shop.manager_pin != "0000" else "1111"
    page = cashier_client.post(
        "/order/void/", {"reason": "customer left", "approver": manager.pk, "approver_pin": wrong}, follow=True
    ).content.decode()
    assert "Manager approval: Wrong PIN." in page
    assert Order.objects.get().status == "open"
    cashier_client.post(
        "/order/void/", {"reason": "customer left", "approver": manager.pk, "approver_pin": demo_shop.manager_pin}
    )
    order = Order.objects.get()
    assert (order.status, order.void_reason, order.voided_by) == ("void", "customer left", manager.user)
    assert not orders.has_open_sale()


def test_open_sale_is_seen_by_the_updater(cashier_client):
    assert not orders.has_open_sale()
    _add(cashier_client, "Espresso")
    assert orders.has_open_sale()


def test_wrong_pin_says_so_and_locks_after_repeated_failures(demo_shop, settings):
    settings.AURSWIFT_PIN_MAX_FAILURES = 3
    client = Client()
    profile = StaffProfile.objects.get(user__username="cashier")
    wrong = "0000" if demo_shop.cashier_pin != "0000" else "1111"
    page = client.post("/signin/", {"staff": profile.pk, "pin": wrong}, follow=True).content.decode()
    assert "Wrong PIN. 2 attempts left." in page
    client.post("/signin/", {"staff": profile.pk, "pin": wrong})
    page = client.post("/signin/", {"staff": profile.pk, "pin": wrong}, follow=True).content.decode()
    assert "Too many wrong PINs. Try again in 60 seconds." in page
    # even the right PIN waits now
    page = client.post("/signin/", {"staff": profile.pk, "pin": demo_shop.cashier_pin}, follow=True).content.decode()
    assert "Too many wrong PINs" in page
    assert client.get("/").status_code == 302


def test_a_last_guess_whose_check_never_ended_pauses_for_the_lockout_only(demo_shop, settings):
    """The app closed while the last allowed guess was being checked: the pause ends like any other."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from pos.exceptions import PinLockedError
    from pos.services import pins

    settings.AURSWIFT_PIN_MAX_FAILURES = 3
    profile = StaffProfile.objects.get(user__username="cashier")
    now = timezone.now()
    for _ in range(3):  # counted before checking; the third check never ends
        pins._count_guess(profile, now)
    cache.clear()  # the till-wide list lived in the app that closed
    with pytest.raises(PinLockedError):
        pins.verify_pin(StaffProfile.objects.get(pk=profile.pk), demo_shop.cashier_pin, now=now + timedelta(seconds=5))
    later = now + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS + 1)
    pins.verify_pin(StaffProfile.objects.get(pk=profile.pk), demo_shop.cashier_pin, now=later)  # accepted
    assert StaffProfile.objects.filter(pk=profile.pk, failed_pin_attempts=0, pin_locked_until=None).exists()


def test_a_count_left_at_the_limit_without_a_pause_does_not_refuse_the_right_pin_forever(demo_shop, settings):
    from pos.services import pins

    settings.AURSWIFT_PIN_MAX_FAILURES = 3
    StaffProfile.objects.filter(user__username="cashier").update(failed_pin_attempts=3, pin_locked_until=None)
    pins.verify_pin(StaffProfile.objects.get(user__username="cashier"), demo_shop.cashier_pin)  # accepted


def test_z_report_closes_the_period_for_managers_only(cashier_client, demo_shop):
    _add(cashier_client, "Mocha")
    cashier_client.post("/order/pay/", {"method": "card"})
    assert cashier_client.post("/reports/z/").status_code == 403

    manager = Client()
    profile = StaffProfile.objects.get(user__username="manager")
    manager.post("/signin/", {"staff": profile.pk, "pin": demo_shop.manager_pin})
    page = manager.post("/reports/z/", follow=True).content.decode()
    assert "Z report #1 closed: 1 sales." in page
    assert 'id="z-count">1<' in page and 'id="z-gross">£3.80<' in page
    assert 'id="x-count">0<' in manager.get("/reports/x/").content.decode()


@pytest.mark.parametrize("path", ["/", "/reports/x/", "/receipt/1/"])
def test_till_pages_need_a_pin_sign_in(db, path):
    assert Client().get(path)["Location"] == "/signin/"


def test_refund_of_a_paid_order_shows_in_the_x_report(cashier_client, demo_shop):
    _add(cashier_client, "Carrot cake")  # 3.60
    cashier_client.post("/order/pay/", {"method": "card"})
    order = Order.objects.get()
    manager = StaffProfile.objects.get(user__username="manager").user
    with pytest.raises(Exception, match="Give a reason"):
        orders.refund_order(order, manager, "  ")
    refund = orders.refund_order(order, manager, "customer returned it")
    order.refresh_from_db()
    assert (order.status, refund.amount_minor, refund.method) == ("refunded", 360, "card")
    with pytest.raises(Exception, match="Only a paid order can be refunded"):
        orders.refund_order(order, manager, "again")
    report = cashier_client.get("/reports/x/").content.decode()
    assert 'id="x-gross">£3.60<' in report and "Card refunds" in report and "−£3.60" in report
