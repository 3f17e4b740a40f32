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
        {"user": profile.user_id, "role": "cashier", "new_pin": "864213"},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert "864213" not in profile.pin_hash
    client = Client()
    assert client.post("/signin/", {"staff": profile.pk, "pin": "864213"})["Location"] == "/"
