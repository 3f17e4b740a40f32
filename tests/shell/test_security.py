"""The local server answers only the window that launched it (DESIGN.md section 6)."""

from __future__ import annotations

import pytest
from django.test import Client

from aurswift import launch
from pos.models import StaffProfile
from pos.services import demo

SECRET = "test-launch-secret"


@pytest.fixture
def launched(settings):
    """Turn on the launch secret, as the launcher does, with an unused one-time path."""
    settings.AURSWIFT_LAUNCH_SECRET = SECRET
    launch._used.clear()
    yield
    launch._used.clear()


def _opened_client(**kwargs) -> Client:
    client = Client(**kwargs)
    assert client.get(f"/launch/{SECRET}/")["Location"] == "/startup/"
    return client


@pytest.mark.parametrize("path", ["/", "/signin/", "/admin/", "/admin/login/", "/reports/x/", "/startup/"])
def test_requests_without_the_launch_secret_are_refused(db, launched, path):
    response = Client().get(path)
    assert response.status_code == 403
    assert "only available in the AurSwift window" in response.content.decode()


def test_the_launch_path_sets_the_csrf_cookie_once_for_all_pages(db, launched):
    # Without it, the start-up screen's quick page loads could each mint a cookie and refuse a recovery button.
    response = Client().get(f"/launch/{SECRET}/")
    assert response.cookies["csrftoken"].value


def test_the_one_time_path_opens_the_session_once(db, launched):
    client = _opened_client()
    assert client.get("/signin/").status_code == 200
    again = Client().get(f"/launch/{SECRET}/")
    assert again.status_code == 403 and "Link no longer valid" in again.content.decode()
    assert Client().get("/launch/wrong-secret/").status_code == 403


def test_a_session_from_an_earlier_launch_is_refused(db, launched, settings):
    client = _opened_client()
    settings.AURSWIFT_LAUNCH_SECRET = "the-next-launch"
    assert client.get("/signin/").status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "192.168.1.10"])
def test_wrong_host_header_is_refused(db, launched, host):
    client = _opened_client()
    assert client.get("/signin/", HTTP_HOST=host).status_code == 400


def test_localhost_host_header_is_accepted(db, launched):
    client = _opened_client()
    assert client.get("/signin/", HTTP_HOST="localhost").status_code == 200


def test_cross_site_post_without_csrf_token_is_refused(db, launched):
    creds = demo.create_demo_data()
    client = _opened_client(enforce_csrf_checks=True)
    profile = StaffProfile.objects.get(user__username="cashier")
    response = client.post("/signin/", {"staff": profile.pk, "pin": creds.cashier_pin})
    assert response.status_code == 403
    assert client.get("/")["Location"] == "/signin/"  # not signed in


def test_cashier_session_cannot_reach_the_admin(db, launched):
    creds = demo.create_demo_data()
    client = _opened_client()
    profile = StaffProfile.objects.get(user__username="cashier")
    assert client.post("/signin/", {"staff": profile.pk, "pin": creds.cashier_pin})["Location"] == "/"
    for path in ["/admin/", "/admin/pos/order/", "/admin/auth/user/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
