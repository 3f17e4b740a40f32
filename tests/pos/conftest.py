"""Fixtures for the till: a demo shop in the test database and signed-in clients."""

from __future__ import annotations

import pytest
from django.test import Client

from pos.models import StaffProfile
from pos.services import demo


@pytest.fixture
def demo_shop(db):
    """Create the demo shop and return its one-time credentials."""
    return demo.create_demo_data()


@pytest.fixture
def cashier_client(demo_shop) -> Client:
    client = Client()
    profile = StaffProfile.objects.get(user__username="cashier")
    response = client.post("/signin/", {"staff": profile.pk, "pin": demo_shop.cashier_pin})
    assert response.status_code == 302 and response["Location"] == "/"
    return client


@pytest.fixture
def manager_admin_client(demo_shop) -> Client:
    client = Client()
    assert client.login(username="manager", password=demo_shop.manager_password)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The till-wide PIN failure count lives in the cache: start each test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
