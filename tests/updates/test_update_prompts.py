"""The update prompts in a real Chromium: Update available → download → Restart to update."""

from __future__ import annotations

import re
import sqlite3

import pytest
from django.test import Client
from playwright.sync_api import expect

from pos.models import StaffProfile
from pos.services import demo
from tests.helpers.app import REPO_ROOT, start_headless, wait_until
from tests.helpers.updates import FIELD_MIGRATION, Server, release

SHOTS = REPO_ROOT / "test-output" / "screenshots"


def _pin(output: list[str], who: str) -> str:
    match = re.search(rf"{who}.*till PIN: (\d+)", "\n".join(output))
    assert match, output
    return match.group(1)


@pytest.mark.browser
def test_manager_downloads_and_restarts_to_update(tmp_path, app_env, page, data_dir):
    repo = release(tmp_path / "rel", FIELD_MIGRATION)
    server = Server(repo)
    env = {
        **app_env,
        "AURSWIFT_UPDATE_URL": server.url,
        "AURSWIFT_UPDATE_TRUSTED_ROOT": str(repo / "metadata" / "1.root.json"),
    }
    app = start_headless(env, script="aurswift_stable.py")
    try:
        page.goto(app.url)
        page.get_by_role("link", name="Open the till").click()
        page.get_by_text("Morgan Manager").click()
        page.fill("#pin", _pin(app.output, "Manager"))
        page.get_by_role("button", name="Sign in").click()
        # the first check runs right after start-up; the banner shows on the next page once it has found 0.2.0
        page.wait_for_function(
            "async () => (await (await fetch('/updates/status/')).json()).status === 'available'", polling=200
        )
        page.reload()
        expect(page.locator(".update-banner")).to_be_visible()
        assert "Update available: AurSwift 0.2.0" in page.inner_text(".update-banner")
        page.get_by_role("link", name="View").click()
        assert page.inner_text("h1") == "Update Available"
        assert page.inner_text("#new-version") == "0.2.0" and "allergens on products" in page.inner_text(".notes")
        # the running copy has nearly every file of 0.2.0: only the changed ones are downloaded
        assert re.fullmatch(r"[\d.]+\s[KM]?B \(\d+ changed files?\)", page.inner_text("#download-size"))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "update-available.png"), full_page=True)
        page.get_by_role("button", name="Update Now").click()
        page.wait_for_selector("text=Restart to Update", timeout=60000)
        assert (data_dir / "updates" / "staged" / "0.2.0" / "staged.json").exists()
        page.screenshot(path=str(SHOTS / "update-restart.png"), full_page=True)
        page.get_by_role("button", name="Restart & Update").click()
        page.wait_for_selector("text=Restarting to update")
        # the stable launcher installs 0.2.0 and starts it; its guarded upgrade runs with a backup
        app.wait_for("Serving on ", count=2)
        assert "starting 0.2.0 version" in "\n".join(app.output)
        state_file = data_dir / "app" / "current.json"
        wait_until(lambda: '"trial": false' in state_file.read_text(), what="0.2.0 to leave its trial")
        assert '"current": "0.2.0"' in state_file.read_text() and '"trial": false' in state_file.read_text()
        conn = sqlite3.connect(f"file:{data_dir / 'pos_system.db'}?mode=ro", uri=True)
        assert "allergens" in [r[1] for r in conn.execute("PRAGMA table_info(pos_product)")]
        conn.close()
        assert any("before_migration" in p.read_text() for p in (data_dir / "backups").glob("*.json"))
    finally:
        app.stop()
        server.stop()


def test_cashier_sees_the_prompt_but_cannot_install(db, settings):
    creds = demo.create_demo_data()
    client = Client()
    client.post("/signin/", {"staff": StaffProfile.objects.get(user__username="cashier").pk, "pin": creds.cashier_pin})
    assert client.get("/updates/").status_code == 200
    page = client.post("/updates/now/", follow=True).content.decode()
    assert "Only a manager can install updates." in page
    assert client.get("/admin/maintenance/softwareupdate/")["Location"].startswith("/admin/login/")


def test_manager_sees_the_updates_admin_page(db, settings):
    demo.create_demo_data()
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get("/admin/maintenance/softwareupdate/").content.decode()
    installed = re.search(r'<td id="installed-version">([^<]*)</td>', page)
    assert installed and installed.group(1) == f"{settings.AURSWIFT_VERSION} (bundled)", page
    assert "Check now" in page
