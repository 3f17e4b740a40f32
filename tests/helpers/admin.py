"""The admin in a real Chromium: a manager signs in with the password the first run printed."""

from __future__ import annotations

import re

from tests.helpers.app import screenshot

BASE = "/admin/maintenance/databasemaintenance/"


def manager_password(output: list[str]) -> str:
    match = re.search(r"admin login: manager / (\S+)", "\n".join(output))
    assert match, output
    return match.group(1)


def shot(page, name: str) -> None:
    screenshot(page, f"admin-{name}")


def sign_in_as_manager(app, page) -> None:
    page.goto(app.url)
    page.wait_for_selector("text=Welcome to AurSwift")
    page.goto(app.base + "/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", manager_password(app.output))
    page.click("input[type=submit]")
    page.wait_for_selector("text=Database maintenance")
