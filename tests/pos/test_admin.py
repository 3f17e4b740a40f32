"""Managers run the shop from Django admin; cashiers never get in."""

from __future__ import annotations

import pytest
from django.test import Client

from pos.models import Order, Product, StaffProfile
from pos.services import orders


@pytest.fixture
def a_paid_order(demo_shop):
    cashier = StaffProfile.objects.get(user__username="cashier").user
    order = orders.open_order(cashier)
    orders.add_product(order, Product.objects.get(name="Latte"), 2)
    orders.pay(order, "card", taken_by=cashier)
    return order


def test_cashier_is_refused_by_the_admin(cashier_client):
    response = cashier_client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Client().get("/admin/pos/order/")["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/admin/", "Run the shop"),
        ("/admin/pos/product/", "Cappuccino"),
        ("/admin/pos/product/?q=SKU1003", "Cappuccino"),
        ("/admin/pos/category/", "Hot drinks"),
        ("/admin/pos/vatrate/", "Standard"),
        ("/admin/pos/table/", "Table 8"),
        ("/admin/pos/staffprofile/", "Casey Cashier"),
        ("/admin/pos/business/", "AurSwift Demo Café"),
        ("/admin/pos/order/", "£7.00"),
        ("/admin/pos/zreport/", "0 Z reports"),
    ],
)
def test_manager_admin_pages_load_with_data(manager_admin_client, a_paid_order, path, expected):
    response = manager_admin_client.get(path)
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_paid_orders_are_read_only(manager_admin_client, a_paid_order):
    page = manager_admin_client.get(f"/admin/pos/order/{a_paid_order.pk}/change/").content.decode()
    assert "Latte" in page and 'name="_save"' not in page
    response = manager_admin_client.post(f"/admin/pos/order/{a_paid_order.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Order.objects.filter(pk=a_paid_order.pk, status="paid").exists()


def test_setting_a_pin_in_the_admin_stores_only_a_hash(manager_admin_client, demo_shop):
    profile = StaffProfile.objects.get(user__username="cashier")
    response = manager_admin_client.post(
        f"/admin/pos/staffprofile/{profile.pk}/change/",
        {"first_name": "Casey", "last_name": "Cashier", "role": "cashier", "new_pin": "864213", "active": "on"},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert "864213" not in profile.pin_hash
    client = Client()
    assert client.post("/signin/", {"staff": profile.pk, "pin": "864213"})["Location"] == "/"


def test_a_product_price_is_typed_as_money_with_a_point_or_a_comma(manager_admin_client, demo_shop):
    product = Product.objects.get(name="Cappuccino")
    page = manager_admin_client.get(f"/admin/pos/product/{product.pk}/change/").content.decode()
    assert 'value="3.40"' in page
    data = {
        "name": "Cappuccino",
        "category": product.category_id,
        "vat_rate": product.vat_rate_id,
        "active": "on",
        "sku": product.sku or "",
        "barcode": product.barcode or "",
    }
    for typed, minor in [("3,65", 365), ("£3.70", 370), ("4", 400)]:
        response = manager_admin_client.post(f"/admin/pos/product/{product.pk}/change/", {**data, "price": typed})
        assert response.status_code == 302
        product.refresh_from_db()
        assert product.price_minor == minor


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("abc", "is not an amount"),
        ("", "This field is required."),
        ("1,234.50", "one decimal point"),
        ("1,234", "at most two decimals"),
        ("1e999999", "is not an amount"),
        ("9" * 29, "up to £1,000,000.00"),
        ("-1", "is not an amount"),
    ],
)
def test_a_bad_product_price_is_refused_with_a_message(manager_admin_client, demo_shop, typed, says):
    product = Product.objects.get(name="Cappuccino")
    data = {"name": "X", "category": product.category_id, "vat_rate": product.vat_rate_id, "price": typed}
    response = manager_admin_client.post(f"/admin/pos/product/{product.pk}/change/", data)
    assert response.status_code == 200 and says in response.content.decode()
    product.refresh_from_db()
    assert (product.name, product.price_minor) == ("Cappuccino", 340)


@pytest.mark.parametrize(
    ("path", "data", "says"),
    [
        ("/admin/pos/table/add/", {"name": "T9", "seats": "9" * 29}, "less than or equal to 500"),
        ("/admin/pos/table/add/", {"name": "T9", "seats": "abc"}, "Enter a whole number."),
        ("/admin/pos/vatrate/add/", {"name": "Huge", "percent": "9" * 29}, "at most 10 characters"),
        ("/admin/pos/vatrate/add/", {"name": "Huge", "percent": "100.01"}, "at most 100 %"),
        ("/admin/pos/category/add/", {"name": "C", "sort_order": "1e999999", "colour": "#fff"}, "whole number"),
    ],
)
def test_admin_numbers_are_bounded(manager_admin_client, demo_shop, path, data, says):
    response = manager_admin_client.post(path, data)
    assert response.status_code == 200 and says in response.content.decode()


def test_a_pin_that_is_not_digits_is_refused_in_the_form(manager_admin_client, demo_shop):
    profile = StaffProfile.objects.get(user__username="cashier")
    before = profile.pin_hash
    response = manager_admin_client.post(
        f"/admin/pos/staffprofile/{profile.pk}/change/",
        {"first_name": "Casey", "role": "cashier", "new_pin": "12ab", "active": "on"},
    )
    assert response.status_code == 200 and "A PIN is 4 to 8 digits" in response.content.decode()
    profile.refresh_from_db()
    assert profile.pin_hash == before


@pytest.mark.parametrize("value", ["abc", "9" * 29, "-1", ""])
def test_an_admin_action_on_ids_that_cannot_exist_says_so(manager_admin_client, demo_shop, value):
    manager_admin_client.raise_request_exception = False
    response = manager_admin_client.post(
        "/admin/pos/staffprofile/", {"action": "unlock", "_selected_action": [value]}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Tick the items in the list" in page or "Items must be selected" in page


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=" + "9" * 29,
        "created_at__year=2024&created_at__month=" + "9" * 29,
        "created_at__year=2024&created_at__month=1&created_at__day=" + "9" * 29,
        "created_at__year=0",
    ],
)
def test_a_date_link_outside_the_calendar_shows_every_z_report(manager_admin_client, demo_shop, query):
    response = manager_admin_client.get(f"/admin/pos/zreport/?{query}", follow=True)
    assert response.status_code == 200
    assert "That date is not in the calendar" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/pos/order/?q=" + "9" * 29,
        "/admin/pos/order/?q=abc",
        "/admin/pos/order/?table__id__exact=" + "9" * 29,
        "/admin/pos/order/abc/change/",
        "/admin/pos/order/" + "9" * 29 + "/change/",
    ],
)
def test_admin_lists_and_pages_take_any_link(manager_admin_client, demo_shop, path):
    manager_admin_client.raise_request_exception = False
    assert manager_admin_client.get(path, follow=True).status_code == 200


def test_staff_are_added_in_one_form_with_name_role_and_pin(manager_admin_client, demo_shop):
    response = manager_admin_client.post(
        "/admin/pos/staffprofile/add/",
        {"first_name": "Sam", "last_name": "Shift", "role": "cashier", "new_pin": "2468", "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    profile = StaffProfile.objects.get(user__first_name="Sam")
    assert (profile.role, profile.user.username, profile.user.is_staff) == ("cashier", "sam-shift", False)
    assert not profile.user.has_usable_password()
    client = Client()
    assert client.post("/signin/", {"staff": profile.pk, "pin": "2468"})["Location"] == "/"
    # a second Sam Shift gets a username of their own; a PIN is needed for someone new
    page = manager_admin_client.post(
        "/admin/pos/staffprofile/add/", {"first_name": "Sam", "last_name": "Shift", "role": "manager"}
    ).content.decode()
    assert "This field is required." in page
    manager_admin_client.post(
        "/admin/pos/staffprofile/add/",
        {
            "first_name": "Sam",
            "last_name": "Shift",
            "role": "manager",
            "new_pin": "13579",
            "active": "on",
            "backoffice_password": "a long enough back-office password",
        },
    )
    boss = StaffProfile.objects.get(user__username="sam-shift-2")
    assert boss.role == "manager" and boss.user.is_staff and boss.user.groups.filter(name="Managers").exists()
    assert Client().login(username="sam-shift-2", password="a long enough back-office password")


def test_vat_is_typed_in_percent_and_stored_in_basis_points(manager_admin_client, demo_shop):
    from pos.models import VatRate

    for typed, stored in [("20", 2000), ("5", 500), ("17,5", 1750), ("12.5 %", 1250), ("0", 0)]:
        response = manager_admin_client.post("/admin/pos/vatrate/add/", {"name": f"Rate {typed}", "percent": typed})
        assert response.status_code == 302, typed
        assert VatRate.objects.get(name=f"Rate {typed}").rate_bp == stored
    standard = VatRate.objects.get(name="Standard")
    assert 'value="20"' in manager_admin_client.get(f"/admin/pos/vatrate/{standard.pk}/change/").content.decode()
    assert "20 %" in manager_admin_client.get("/admin/pos/vatrate/").content.decode()
    for typed in ["abc", "101", "1e3", "-5", "9" * 29]:
        response = manager_admin_client.post("/admin/pos/vatrate/add/", {"name": f"Bad {typed}", "percent": typed})
        assert response.status_code == 200 and "errorlist" in response.content.decode()
        assert not VatRate.objects.filter(name=f"Bad {typed}").exists()


def test_a_new_product_price_is_typed_in_pounds(manager_admin_client, demo_shop):
    product = Product.objects.get(name="Cappuccino")
    response = manager_admin_client.post(
        "/admin/pos/product/add/",
        {"name": "Tea cake", "category": product.category_id, "vat_rate": product.vat_rate_id, "price": "2.50"},
    )
    assert response.status_code == 302
    assert Product.objects.get(name="Tea cake").price_minor == 250
    assert "£2.50" in manager_admin_client.get("/admin/pos/product/?q=Tea").content.decode()


def test_order_and_z_report_pages_show_money_not_minor_units(manager_admin_client, a_paid_order, demo_shop):
    from pos.services import reports

    manager = StaffProfile.objects.get(user__username="manager").user
    orders.refund_order(a_paid_order, manager, "cold", method="cash")
    page = manager_admin_client.get(f"/admin/pos/order/{a_paid_order.pk}/change/").content.decode()
    assert "minor" not in page.lower() and "£7.00" in page and "£3.50" in page and "£1.17" in page
    assert f"/receipt/{a_paid_order.pk}/" in page
    z = reports.close_z_report(manager)
    page = manager_admin_client.get(f"/admin/pos/zreport/{z.pk}/change/").content.decode()
    assert "minor" not in page.lower() and "Card: £7.00" in page and "Cash refunds: £7.00" in page
    assert f"/reports/z/{z.pk}/" in page and "20 %: gross £7.00, VAT £1.17" in page
    assert "£7.00" in manager_admin_client.get("/admin/pos/refund/").content.decode()
    # the manager's reprint of the receipt, from the back-office session
    assert "Receipt #" in manager_admin_client.get(f"/receipt/{a_paid_order.pk}/").content.decode()
