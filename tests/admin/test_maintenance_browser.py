"""A manager backs up, verifies, downloads and restores in a real Chromium."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "test-output" / "screenshots"
BASE = "/admin/maintenance/databasemaintenance/"


def _manager_password(output: list[str]) -> str:
    match = re.search(r"admin login: manager / (\S+)", "\n".join(output))
    assert match, output
    return match.group(1)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)


def test_manager_backs_up_verifies_downloads_and_restores(headless_app, page, data_dir, tmp_path):
    base = headless_app.base
    page.goto(headless_app.url)
    page.wait_for_selector("text=Welcome to AurSwift")
    page.goto(base + "/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", _manager_password(headless_app.output))
    page.click("input[type=submit]")
    page.wait_for_selector("text=Database maintenance")

    page.goto(base + BASE + "backups/")
    page.get_by_role("button", name="Back up now").click()
    page.wait_for_selector("#backups tbody tr[data-name] >> text=verified")
    row = page.locator("#backups tbody tr[data-name]").first
    name = row.get_attribute("data-name")
    assert "Manual" in row.inner_text() and "verified" in row.inner_text()
    _shot(page, "backups")

    row.get_by_role("button", name="Verify").click()
    page.wait_for_selector(f"text={name} is intact")

    with page.expect_download() as download_info:
        page.locator(f"tr[data-name='{name}']").get_by_role("link", name="Download").click()
    downloaded = tmp_path / "download.db"
    download_info.value.save_as(downloaded)
    assert downloaded.read_bytes() == (data_dir / "backups" / name).read_bytes()

    # change the shop after the backup: rename a product
    page.goto(base + "/admin/pos/product/?q=Cappuccino")
    page.get_by_role("link", name="Cappuccino").click()
    page.fill("#id_name", "Cappuccino RENAMED")
    page.click("input[name=_save]")
    page.wait_for_selector("text=Cappuccino RENAMED")

    page.goto(base + BASE + "backups/")
    page.locator(f"tr[data-name='{name}']").get_by_role("link", name="Restore…").click()
    assert "A restore point of the current database is taken first" in page.inner_text("#content-main")
    _shot(page, "restore-confirm")
    page.get_by_role("button", name="Restore this backup").click()
    page.wait_for_selector(f"text=Restored {name}")
    assert "Restore point" in page.inner_text("#backups")

    page.goto(base + "/admin/pos/product/?q=Cappuccino")
    products = page.inner_text("#result_list")
    assert "Cappuccino" in products and "RENAMED" not in products
    page.goto(base + "/?q=Cappucc")  # the till, without a restart, sees the restored catalogue
    till = page.inner_text(".products")
    assert "Cappuccino" in till and "RENAMED" not in till

    page.goto(base + BASE + "backups/")
    page.fill("input[name=keep]", "3")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Retention saved.")
    assert '"backup_retention": 3' in (data_dir / "maintenance.json").read_text()

    page.goto(base + BASE + "backups/")
    newest = page.locator("#backups tbody tr[data-name]").first.get_attribute("data-name")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"tr[data-name='{newest}']").get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=is the newest verified backup and is kept")
    assert (data_dir / "backups" / newest).exists()

    page.goto(base + BASE + "health/")
    page.get_by_role("button", name="Run full check now").click()
    page.wait_for_selector("text=Full check finished: OK")
    assert "integrity_check" in page.inner_text("#last-full")
    _shot(page, "health")

    page.goto(base + BASE + "history/")
    assert "created" in page.inner_text("#history")
    _shot(page, "history")
