"""A manager backs up, verifies, downloads and restores in a real Chromium."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.helpers.admin import BASE, shot, sign_in_as_manager
from tests.helpers.app import start_headless
from tests.helpers.disk import fill_disk, small_tmpfs

pytestmark = pytest.mark.browser


def _back_up_now(app, page, data_dir: Path, expect: str) -> None:
    """Click "Back up now" and wait for the page to say how it ended; on a timeout, show why."""
    page.goto(app.base + BASE + "backups/")
    page.get_by_role("button", name="Back up now").click()
    try:
        page.wait_for_selector(f"text={expect}", timeout=60000)
    except PlaywrightTimeoutError:
        log = data_dir / "logs" / "aurswift.log"
        app.proc.send_signal(signal.SIGUSR1)  # the launcher prints every thread's stack
        time.sleep(1)
        pytest.fail(
            f"never saw {expect!r}. Page:\n{page.inner_text('body')}\n"
            f"Log:\n{log.read_text()[-2000:] if log.exists() else '(no log)'}\n"
            "Launcher output:\n" + "\n".join(app.output[-150:])
        )


def test_manager_backs_up_verifies_downloads_and_restores(headless_app, page, data_dir, tmp_path):
    base = headless_app.base
    sign_in_as_manager(headless_app, page)
    _back_up_now(headless_app, page, data_dir, "Backup saved and verified")
    row = page.locator("#backups tbody tr[data-name]").first
    name = row.get_attribute("data-name")
    assert "Manual" in row.inner_text() and "verified" in row.inner_text()
    shot(page, "backups")

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
    shot(page, "restore-confirm")
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
    shot(page, "health")

    page.goto(base + BASE + "history/")
    assert "created" in page.inner_text("#history")
    shot(page, "history")


def test_a_backup_that_cannot_fit_is_refused_on_the_page_with_the_sizes(app_env, page, tmp_path):
    with small_tmpfs(tmp_path / "small", size="200m") as mount_point:
        data_dir = mount_point / "data"
        data_dir.mkdir()
        app = start_headless({**app_env, "AURSWIFT_DATA_DIR": str(data_dir)})
        try:
            sign_in_as_manager(app, page)
            fill_disk(mount_point, leave_bytes=2 * 1024 * 1024)
            _back_up_now(app, page, data_dir, "The backup was not made")
            text = page.inner_text(".messagelist")
            assert "Not enough disk space to back up the database." in text
            assert "Required: " in text and "Available: " in text
            assert "No backups yet." in page.inner_text("#backups")
            assert not list((data_dir / "backups").glob("aurswift-backup-*"))
            shot(page, "backup-refused-disk-full")
        finally:
            app.stop()


def test_a_backup_while_the_till_reads_waits_then_copies_what_was_committed(headless_app, page, data_dir):
    """A reader pinned to an old snapshot stops the checkpoint; the backup falls back to SQLite's online copy."""
    import sqlite3

    sign_in_as_manager(headless_app, page)
    db = data_dir / "pos_system.db"
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM pos_product").fetchone()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute(
        "UPDATE pos_product SET name = 'Committed while reading' WHERE id = (SELECT min(id) FROM pos_product)"
    )
    writer.close()
    try:
        _back_up_now(headless_app, page, data_dir, "Backup saved and verified")
    finally:
        reader.execute("COMMIT")
        reader.close()
    name = page.locator("#backups tbody tr[data-name]").first.get_attribute("data-name")
    copy = sqlite3.connect(f"file:{data_dir / 'backups' / name}?mode=ro", uri=True)
    names = [row[0] for row in copy.execute("SELECT name FROM pos_product")]
    copy.close()
    assert "Committed while reading" in names and len(names) >= 30
