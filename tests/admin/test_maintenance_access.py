"""Only managers with the maintenance permission reach the maintenance pages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from pos.models import StaffProfile
from pos.services import demo

BASE = "/admin/maintenance/databasemaintenance/"
PAGES = [
    "",
    "backups/",
    "health/",
    "history/",
    "backups/progress/",
    "backups/aurswift-backup-20260101-000000.db/download/",
    "backups/aurswift-backup-20260101-000000.db/restore/",
]
ACTIONS = [
    "backups/now/",
    "backups/retention/",
    "health/",
    "backups/aurswift-backup-20260101-000000.db/verify/",
    "backups/aurswift-backup-20260101-000000.db/restore/",
    "backups/aurswift-backup-20260101-000000.db/delete/",
]


@pytest.fixture
def shop(db):
    return demo.create_demo_data()


def _cashier(shop) -> Client:
    client = Client()
    profile = StaffProfile.objects.get(user__username="cashier")
    client.post("/signin/", {"staff": profile.pk, "pin": shop.cashier_pin})
    return client


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_and_cashier_are_sent_to_the_login(shop, page):
    for client in (Client(), _cashier(shop)):
        response = client.get(BASE + page)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_are_refused_without_the_permission(shop, action):
    for client in (Client(), _cashier(shop)):
        response = client.post(BASE + action, {"keep": "3"})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    staff = get_user_model().objects.create_user("clerk", password="x-not-used-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.post(BASE + action, {"keep": "3"}).status_code == 403
    assert client.get(BASE).status_code == 403
    assert "Database maintenance" not in client.get("/admin/").content.decode()


@pytest.mark.parametrize(
    "name", ["..%2Fpos_system.db", "pos_system.db", "%2Fetc%2Fpasswd", "aurswift-backup-1.db", "secret_key"]
)
def test_crafted_backup_names_are_refused(shop, name):
    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    for suffix in ["download/", "restore/"]:
        assert client.get(f"{BASE}backups/{name}/{suffix}").status_code == 404
    assert client.post(f"{BASE}backups/{name}/delete/").status_code == 404


def test_manager_sees_the_maintenance_section(shop):
    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get("/admin/").content.decode()
    assert "Database maintenance" in page
    assert "Upgrade history" in client.get(BASE).content.decode()
