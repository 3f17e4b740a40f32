"""Each recovery scenario, set up with real broken files, in a real Chromium.

Each test checks the page's title and text, and that its buttons do on disk
what they say. Destructive buttons (Start Fresh, Restore, Try Repair,
accepting a changed migration) ask for a manager's PIN on the page: a
cashier's PIN changes nothing on disk (the files' sha256 before and after),
a manager's PIN does what the page then says it did.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT, screenshot, start_headless, wait_until
from tests.helpers.disk import small_tmpfs
from tests.helpers.sqlite import dump, holding_write_lock, sha

pytestmark = pytest.mark.browser

MANAGER_PIN, CASHIER_PIN = "4826", "1357"


def _wait_exit(app, timeout: float = 10.0) -> int | None:
    try:
        return app.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _heading(page, timeout: float = 30000) -> str:
    """Return the recovery page's title, once start-up has stopped on one."""
    page.wait_for_selector("main.dialog button[data-action]", timeout=timeout)
    return page.inner_text("main.dialog h1")


def _hash_pin(pin: str) -> str:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    return PBKDF2PasswordHasher().encode(pin, "testsalt1234", iterations=1000)


def add_staff(db: Path) -> None:
    """Give the shop a manager (Morgan) and a cashier (Casey) with known PINs."""
    conn = sqlite3.connect(db)
    with conn:
        for username, first, role, pin, staff in (
            ("morgan", "Morgan", "manager", MANAGER_PIN, 1),
            ("casey", "Casey", "cashier", CASHIER_PIN, 0),
        ):
            cur = conn.execute(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
                " is_active, date_joined) VALUES ('!', 0, ?, ?, 'Test', '', ?, 1, '2025-01-01 00:00:00')",
                (username, first, staff),
            )
            conn.execute(
                "INSERT INTO pos_staffprofile (user_id, role, pin_hash, failed_pin_attempts) VALUES (?, ?, ?, 0)",
                (cur.lastrowid, role, _hash_pin(pin)),
            )
    conn.close()


def disk_state(data_dir: Path) -> dict[str, str]:
    """Every file of the data directory (but logs) and its sha256: what "nothing changed on disk" compares."""
    return {
        str(p.relative_to(data_dir)): sha(p)
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and "logs" not in p.relative_to(data_dir).parts
    }


def history(data_dir: Path) -> list[dict]:
    path = data_dir / "logs" / "upgrade-history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _kept_aside(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.glob("pos_system.db.old.*") if not p.name.endswith(("-wal", "-shm"))]


def _press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def _refused_with(page, data_dir: Path, button: str, *, pin: str = CASHIER_PIN, fill=None) -> None:
    """Press a destructive button, type a cashier's PIN: the page refuses, and no file changes."""
    before = disk_state(data_dir)
    _press(page, button)
    page.wait_for_selector("#confirm-form")
    assert "What will happen if you confirm" in page.inner_text("main")
    if fill:
        fill(page)
    page.fill("#pin", pin)
    page.locator("button[form=confirm-form]").click()
    page.wait_for_selector("#form-errors")
    assert "not a manager's PIN" in page.inner_text("#form-errors")
    assert "Nothing was changed" in page.inner_text("#form-errors")
    assert disk_state(data_dir) == before, "a wrong PIN changes nothing on disk"
    page.get_by_role("button", name="Back", exact=True).click()
    _heading(page)


def _confirm(page, pin: str = MANAGER_PIN, fill=None) -> None:
    if fill:
        fill(page)
    page.fill("#pin", pin)
    page.locator("button[form=confirm-form]").click()


def _empty_shop(page) -> None:
    page.check("input[name=new_shop][value=empty]")
    page.fill("#shop_name", "Corner Shop")
    page.fill("input[name=vat_name_2]", "")
    page.fill("input[name=vat_rate_2]", "")
    page.fill("#manager_first_name", "Robin")
    page.fill("#manager_username", "robin")
    page.fill("#manager_password", "a-long-shop-password")
    page.fill("#manager_password2", "a-long-shop-password")
    page.fill("#manager_new_pin", "2468")


def _demo_shop(page) -> None:
    page.check("input[name=new_shop][value=demo]")


def _make_legacy_with_staff(shop) -> None:
    """A database of an older AurSwift: its tables and staff, but no django_migrations."""
    add_staff(shop.db)
    conn = sqlite3.connect(shop.db)
    conn.execute("DROP TABLE django_migrations")
    conn.commit()
    conn.close()


def test_legacy_database_start_fresh_needs_a_manager_and_keeps_the_old_file(v1_shop, launch, page):
    _make_legacy_with_staff(v1_shop)
    legacy_sha = sha(v1_shop.db)
    app = launch(v1_shop)
    page.goto(app.url)
    assert "Incompatible Database Detected" in _heading(page)
    text = page.inner_text("main")
    assert "Your database cannot be automatically migrated." in text
    assert "50 products" in text, "the page says what the database holds"
    screenshot(page, "recovery-legacy")

    _refused_with(page, v1_shop.data_dir, "Backup & Start Fresh", fill=_empty_shop)
    _press(page, "Backup & Start Fresh")
    assert "checked against the staff list in the current database" in page.inner_text("#pin-source")
    assert "pos_system.db.old.<date-time>" in page.inner_text("main")
    _empty_shop(page)
    screenshot(page, "recovery-start-fresh-confirm")
    _confirm(page)
    page.wait_for_selector("text=AurSwift is ready", timeout=60000)
    (old,) = _kept_aside(v1_shop.data_dir)
    notice = page.inner_text("#outcome")
    assert f"kept aside unchanged as {old.name}" in notice and "Corner Shop" in notice
    assert sha(old) == legacy_sha, "the legacy file is kept byte-identical"
    screenshot(page, "recovery-start-fresh-done")
    assert v1_shop.count("pos_product") == 0, "an empty shop: no demo menu"
    assert v1_shop.count("pos_vatrate") == 2 and v1_shop.count("pos_business") == 1
    run = [r for r in history(v1_shop.data_dir) if r["outcome"] == "start_fresh"][-1]
    assert "Morgan" in run["confirmed_by"] and run["kept_aside"] == str(old)
    page.get_by_role("link", name="Open the till").click()
    page.wait_for_selector("text=Who is on the till?")


def test_legacy_database_without_any_manager_explains_and_takes_a_typed_confirmation(shop, launch, page):
    conn = sqlite3.connect(shop.db)
    conn.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO products (name) VALUES ('Old till item')")
    conn.commit()
    conn.close()
    legacy_sha = sha(shop.db)
    app = launch(shop)
    page.goto(app.url)
    _heading(page)
    _press(page, "Backup & Start Fresh")
    source = page.inner_text("#pin-source")
    assert "No manager could be found" in source and "typing CONFIRM" in source
    before = disk_state(shop.data_dir)
    _demo_shop(page)
    page.fill("#typed", "yes")
    page.locator("button[form=confirm-form]").click()
    page.wait_for_selector("#form-errors")
    assert disk_state(shop.data_dir) == before
    _demo_shop(page)
    page.fill("#typed", "CONFIRM")
    page.locator("button[form=confirm-form]").click()
    page.wait_for_selector("text=Welcome to AurSwift", timeout=60000)
    (old,) = _kept_aside(shop.data_dir)
    assert sha(old) == legacy_sha
    assert old.name in page.inner_text("#outcome")
    assert shop.count("pos_product") >= 30, "the demo only when chosen"


def test_cancel_closes_and_changes_nothing(shop, launch, page):
    conn = sqlite3.connect(shop.db)
    conn.execute("CREATE TABLE legacy_sales (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = sha(shop.db)
    app = launch(shop)
    page.goto(app.url)
    _heading(page)
    _press(page, "Cancel")
    page.wait_for_selector("text=AurSwift has closed")
    assert _wait_exit(app) == 0
    assert sha(shop.db) == before
    assert sorted(p.name for p in shop.data_dir.glob("pos_system.db*")) == ["pos_system.db"]


def test_failed_migration_is_restored_remembered_and_not_rerun(v1_shop, launch, page):
    add_staff(v1_shop.db)
    before = v1_shop.count("shopext_widget")
    app = launch(v1_shop, "fail2")
    page.goto(app.url)
    assert _heading(page).endswith("Database Migration Failed")
    text = page.inner_text("main")
    assert "Your database has been restored to its previous state." in text
    assert "Backup file:" in text and "aurswift-backup-" in text
    assert "data migration failed on purpose" in text
    assert text.count("Nothing was changed") <= 1
    buttons = page.locator("button[data-action]").all_inner_texts()
    assert buttons == ["Backup & Start Fresh", "Try Again", "Cancel"], "no restore that cannot help"
    screenshot(page, "recovery-migration-failed")
    assert "colour" not in v1_shop.columns("shopext_widget")
    assert v1_shop.count("shopext_widget") == before
    _press(page, "Cancel")
    page.wait_for_selector("text=AurSwift has closed")
    assert _wait_exit(app) == 0

    # the next start does not run the failing migration again
    backups_before = sorted(p.name for p in (v1_shop.data_dir / "backups").glob("*.db"))
    runs_before = len(history(v1_shop.data_dir))
    db_before = sha(v1_shop.db)
    app = launch(v1_shop, "fail2")
    page.goto(app.url)
    assert _heading(page).endswith("Database Migration Failed")
    assert "This update already failed on this database." in page.inner_text("main")
    screenshot(page, "recovery-migration-known-failure")
    assert sorted(p.name for p in (v1_shop.data_dir / "backups").glob("*.db")) == backups_before
    assert len(history(v1_shop.data_dir)) == runs_before and sha(v1_shop.db) == db_before

    # "Try Again" runs it once more, on request: backed up, fails, restored again
    _press(page, "Try Again")
    page.wait_for_selector("text=Failed to migrate your database to the current version.", timeout=60000)
    assert len(list((v1_shop.data_dir / "backups").glob("*.db"))) == len(backups_before) + 1
    assert [r["outcome"] for r in history(v1_shop.data_dir)].count("failed_restored") == 2
    assert v1_shop.count("shopext_widget") == before


# An installed version as the stable launcher starts it: this checkout's app, with a migration that fails.
FAILING_VERSION = """
import os, runpy, sys
os.environ["AURSWIFT_MIGRATION_MODULES"] = {modules!r}
sys.path.insert(0, {repo!r})
os.chdir({repo!r})
sys.argv[0] = {launcher!r}
runpy.run_path({launcher!r}, run_name="__main__")
"""


def test_keep_using_the_previous_version_goes_back_to_it_and_changes_nothing(v1_shop, page):
    """A confirmed version whose upgrade fails offers the version before; the stable launcher then starts that one."""
    before = dump(v1_shop.db)
    installed = v1_shop.data_dir / "app" / "versions" / "0.2.0"
    installed.mkdir(parents=True)
    (installed / "launcher.py").write_text(
        FAILING_VERSION.format(
            modules=v1_shop.env_for("fail2")["AURSWIFT_MIGRATION_MODULES"],
            repo=str(REPO_ROOT),
            launcher=str(REPO_ROOT / "launcher.py"),
        )
    )
    current = v1_shop.data_dir / "app" / "current.json"
    current.write_text(json.dumps({"current": "0.2.0", "previous": "bundled", "trial": False}))
    app = start_headless(v1_shop.env_for("v1"), script="aurswift_stable.py")
    try:
        page.goto(app.url)
        assert _heading(page).endswith("Database Migration Failed")
        assert "Keep using version 0.1.0: AurSwift restarts with the version you used before" in page.inner_text("main")
        _press(page, "Keep using version 0.1.0")
        page.wait_for_selector("text=AurSwift is starting the version you used before.")
        app.wait_for("Serving on ", count=2)
        output = "\n".join(app.output)
        assert "0.2.0 failed (the new version could not upgrade the database; the shop chose to keep using" in output
        assert "starting bundled version" in output
        page.goto([line for line in app.output if line.startswith("Serving on ")][-1].split(" ", 2)[2])
        assert "Database Migration Failed" not in page.inner_text("body")
    finally:
        app.stop()
    assert dump(v1_shop.db) == before, "the database is as the version before left it"
    assert json.loads(current.read_text())["current"] is None  # the bundled version is the one started now
    kept = [run for run in history(v1_shop.data_dir) if run["outcome"] == "kept_previous_version"]
    assert [run["previous_version"] for run in kept] == ["0.1.0"]


def test_restore_on_the_failed_migration_page_names_the_backup_and_keeps_a_restore_point(v1_shop, launch, page):
    add_staff(v1_shop.db)
    assert v1_shop.manage("backup_db").returncode == 0  # an older backup, with 50 widgets
    (older,) = (v1_shop.data_dir / "backups").glob("*.db")
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('after the backup', 1)")
    conn.commit()
    conn.close()
    app = launch(v1_shop, "fail2")
    page.goto(app.url)
    _heading(page)
    assert "Restore from Backup" in page.locator("button[data-action]").all_inner_texts()
    _refused_with(page, v1_shop.data_dir, "Restore from Backup")
    live_dump = dump(v1_shop.db)

    _press(page, "Restore from Backup")
    choices = page.inner_text("fieldset")
    assert older.name in choices and "a database of AurSwift" in choices and "50 products" in choices
    screenshot(page, "recovery-restore-confirm")
    _confirm(page)
    page.wait_for_selector("#outcome", timeout=60000)
    notice = page.inner_text("#outcome")
    assert f"The backup {older.name}" in notice and "restore point" in notice
    assert "This update already failed on this database." in page.inner_text("main"), "not rerun after the restore"
    screenshot(page, "recovery-restore-done")
    assert v1_shop.count("shopext_widget") == 50 and dump(v1_shop.db) == dump(older)
    point = [r for r in history(v1_shop.data_dir) if r["outcome"] == "restored"][-1]
    assert "Morgan" in point["confirmed_by"] and point["backup"] == str(older)
    assert Path(point["restore_point"]).name in notice
    assert dump(Path(point["restore_point"])) == live_dump, "the restore point holds the database as it was"


def test_edited_applied_migration_offers_what_can_help(v1_shop, launch, page):
    add_staff(v1_shop.db)
    before = sha(v1_shop.db)
    app = launch(v1_shop, "edited")
    page.goto(app.url)
    assert _heading(page).endswith("Database Migration Failed")
    text = page.inner_text("main")
    assert "shopext.0001_initial" in text and "Restoring a backup would not help" in text
    assert page.locator("button[data-action]").all_inner_texts() == [
        "Accept the Changed Migration",
        "Backup & Start Fresh",
        "Cancel",
    ]
    screenshot(page, "recovery-fingerprint-mismatch")

    def reason(p):
        p.fill("#reason", "widened the name on purpose")

    _refused_with(page, v1_shop.data_dir, "Accept the Changed Migration", fill=reason)
    assert sha(v1_shop.db) == before
    _press(page, "Accept the Changed Migration")
    _confirm(page, fill=reason)
    page.wait_for_selector("text=AurSwift is ready", timeout=60000)
    assert "accepted by Morgan" in page.inner_text("#outcome")
    run = [r for r in history(v1_shop.data_dir) if r["outcome"] == "fingerprint_accepted"][-1]
    assert "Morgan" in run["confirmed_by"] and run["reason"] == "widened the name on purpose"


def test_edited_migration_cancel_changes_nothing(v1_shop, launch, page):
    before = sha(v1_shop.db)
    app = launch(v1_shop, "edited")
    page.goto(app.url)
    _heading(page)
    _press(page, "Cancel")
    page.wait_for_selector("text=AurSwift has closed")
    assert _wait_exit(app) == 0
    assert sha(v1_shop.db) == before


def _corrupt_with_a_backup(shop) -> str:
    add_staff(shop.db)
    assert shop.manage("backup_db").returncode == 0
    data = bytearray(shop.db.read_bytes())
    data[0:16] = b"garbage garbage!"
    shop.db.write_bytes(bytes(data))
    return sha(shop.db)


def test_corrupted_database_start_fresh_checks_the_pin_against_the_newest_backup(v1_shop, launch, page):
    broken_sha = _corrupt_with_a_backup(v1_shop)
    app = launch(v1_shop)
    page.goto(app.url)
    assert _heading(page).endswith("Database Corruption Detected")
    text = page.inner_text("main")
    assert "Your database appears to be corrupted." in text
    assert "Automatic repair attempts failed" not in text and "No repair has been attempted yet." in text
    assert page.locator("button[data-action]").all_inner_texts() == [
        "Backup & Start Fresh",
        "Try Repair",
        "Restore from Backup",
        "Cancel",
    ]
    screenshot(page, "recovery-corrupt")
    for button in ("Backup & Start Fresh", "Try Repair", "Restore from Backup"):
        _refused_with(page, v1_shop.data_dir, button, fill=_empty_shop if button.startswith("Backup") else None)
    assert sha(v1_shop.db) == broken_sha and not _kept_aside(v1_shop.data_dir)

    _press(page, "Backup & Start Fresh")
    assert "newest verified backup, aurswift-backup-" in page.inner_text("#pin-source")
    _demo_shop(page)
    _confirm(page)
    page.wait_for_selector("text=Welcome to AurSwift", timeout=60000)
    (old,) = _kept_aside(v1_shop.data_dir)
    assert sha(old) == broken_sha and old.name in page.inner_text("#outcome")
    assert v1_shop.count("pos_product") >= 30, "the demo, as chosen"


def test_corrupted_database_restore_keeps_the_damaged_file_as_the_restore_point(v1_shop, launch, page):
    broken_sha = _corrupt_with_a_backup(v1_shop)
    (backup,) = (v1_shop.data_dir / "backups").glob("*.db")
    backup_dump = dump(backup)
    app = launch(v1_shop)
    page.goto(app.url)
    _heading(page)
    _press(page, "Restore from Backup")
    _confirm(page)
    page.wait_for_selector("text=AurSwift is ready", timeout=60000)
    notice = page.inner_text("#outcome")
    run = [r for r in history(v1_shop.data_dir) if r["outcome"] == "restored"][-1]
    point = Path(run["restore_point"])
    assert backup.name in notice and point.name in notice
    assert sha(point) == broken_sha, "the damaged database is kept, byte for byte, as the restore point"
    assert dump(v1_shop.db) == backup_dump and "Morgan" in run["confirmed_by"]


def test_try_repair_reports_what_was_recovered(v1_shop, launch, page):
    add_staff(v1_shop.db)
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob TEXT)")
    conn.executemany("INSERT INTO ballast (blob) VALUES (?)", [("x" * 1000,) for _ in range(2000)])
    conn.commit()
    conn.close()
    data = bytearray(v1_shop.db.read_bytes())
    page_size = 4096
    for n in range(len(data) // page_size - 60, len(data) // page_size - 20, 3):  # damage ballast pages
        data[n * page_size : n * page_size + 64] = b"\xff" * 64
    v1_shop.db.write_bytes(bytes(data))
    original_sha = sha(v1_shop.db)
    app = launch(v1_shop, "v2")  # pending migrations: start-up runs the integrity check
    page.goto(app.url)
    assert _heading(page).endswith("Database Corruption Detected")
    _refused_with(page, v1_shop.data_dir, "Try Repair")
    _press(page, "Try Repair")
    assert "checked against the staff list in the current database" in page.inner_text("#pin-source")
    _confirm(page)
    try:
        page.wait_for_selector("text=Method:", timeout=90000)
    except Exception:
        print("PAGE:", page.url, page.inner_text("body"), "\n".join(app.output))
        raise
    assert page.locator("table.repair").count() == 1, page.inner_text("main")
    text = page.inner_text("main")
    assert "Database Repaired" in text and "ballast" in text and "pos_product" in text
    screenshot(page, "recovery-repair")
    (kept,) = _kept_aside(v1_shop.data_dir)
    assert sha(kept) == original_sha, "the damaged original is kept unchanged"
    assert f"kept aside unchanged as {kept.name}" in page.inner_text("#outcome")
    run = [r for r in history(v1_shop.data_dir) if r["outcome"] == "repaired"][-1]
    assert "Morgan" in run["confirmed_by"] and run["kept_aside_sha256"] == original_sha
    _press(page, "Continue")
    try:
        page.wait_for_selector("text=AurSwift is ready", timeout=60000)  # upgraded; staff were salvaged
    except Exception:
        print("PAGE:", page.url, page.inner_text("body"), "\n".join(app.output[-30:]))
        raise
    assert v1_shop.count("pos_product") >= 50
    assert {"colour", "size"} <= set(v1_shop.columns("shopext_widget"))


def test_newer_database_is_refused_with_the_version_needed(v1_shop, launch, page):
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('pos', '0099_future', '2030-01-01')")
    conn.commit()
    conn.close()
    with open(v1_shop.data_dir / "logs" / "upgrade-history.jsonl", "a") as log:
        run = {"outcome": "upgraded", "from_version": "0.1.0", "to_version": "0.4.2", "applied": ["pos.0099_future"]}
        log.write(json.dumps(run) + "\n")
    before = sha(v1_shop.db)
    app = launch(v1_shop)
    page.goto(app.url)
    assert _heading(page).endswith("Database Is Newer Than This App")
    text = page.inner_text("main")
    assert "Install AurSwift 0.4.2 or newer" in text and "0099_future" not in text
    assert text.count("Nothing was changed") == 1
    screenshot(page, "recovery-newer")
    assert page.locator("button[data-action]").all_inner_texts() == ["Quit"]
    _press(page, "Quit")
    page.wait_for_selector("text=AurSwift has closed")
    assert _wait_exit(app) == 0
    assert sha(v1_shop.db) == before


def test_disk_full_shows_the_three_sizes(v1_shop, launch, page, tmp_path):
    with small_tmpfs(tmp_path / "small") as mount_point:
        v1_shop.move_to(mount_point / "data")
        before = sha(v1_shop.db)
        app = launch(v1_shop, "v2")
        page.goto(app.url)
        assert _heading(page).endswith("Database Migration Error")
        text = page.inner_text("main")
        assert "Insufficient disk space for migration." in text
        assert "Database size:" in text and "Required:" in text and "50.0 MB" in text and "Available:" in text
        screenshot(page, "recovery-disk-full")
        _press(page, "OK")
        page.wait_for_selector("text=AurSwift has closed")
        assert _wait_exit(app) == 0
        assert sha(v1_shop.db) == before


def test_another_process_holding_the_database_is_named(v1_shop, launch, page):
    with holding_write_lock(v1_shop.db) as holder:
        app = launch(v1_shop)
        page.goto(app.url)
        assert _heading(page, timeout=60000).endswith("Database In Use")
        assert f"process {holder.pid}" in page.inner_text("main")
        screenshot(page, "recovery-locked")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        _press(page, "Retry")
        page.wait_for_selector("text=Welcome to AurSwift", timeout=30000)


def test_second_instance_names_the_first(v1_shop, launch, page):
    first = launch(v1_shop)
    second = launch(v1_shop)
    page.goto(second.url)
    assert _heading(page).endswith("Database In Use")
    assert f"AurSwift is already running (process {first.proc.pid})" in page.inner_text("main")
    _press(page, "Quit")
    page.wait_for_selector("text=AurSwift has closed")
    assert _wait_exit(second) == 0
    assert first.proc.poll() is None, "the first instance keeps running"


def test_a_pressed_button_says_it_is_working(shop, launch, page):
    conn = sqlite3.connect(shop.db)
    conn.execute("CREATE TABLE legacy_sales (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    app = launch(shop)
    page.goto(app.url)
    _heading(page)
    # what the buttons look like just after the press, kept across the navigation that follows
    page.evaluate(
        """() => document.addEventListener("submit", () => setTimeout(() => {
            const b = document.querySelector("button[data-action=cancel]");
            const live = document.querySelectorAll("button[data-action]:not(:disabled)").length;
            sessionStorage.setItem("seen", [b.disabled, b.textContent, live].join("|"));
        }, 0))"""
    )
    page.locator("button[data-action=cancel]").click()
    page.wait_for_selector("text=AurSwift has closed")
    assert page.evaluate("sessionStorage.getItem('seen')") == "true|Working…|0", "disabled, says so, no second press"


def _window(app):
    """The window as an HTTP client (it opened the launch link), once start-up has stopped on a page."""
    import urllib.parse

    from tests.helpers.till_http import TillBrowser

    window = TillBrowser(app.base)
    window.request(urllib.parse.urlsplit(app.url).path)
    wait_until(lambda: "data-action" in window.request("/startup/")[2], what="a recovery page")
    return window


def _pressed_at_once(window, path: str, form_page: str, data: dict[str, str], times: int) -> list[int]:
    """POST one confirmed form ``times`` at once from tabs of the window: a double (or quadruple) click."""
    import concurrent.futures
    import re

    status, _, page = window.request(form_page)
    assert status == 200, page[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    tabs = [window.clone() for _ in range(times)]
    with concurrent.futures.ThreadPoolExecutor(times) as pool:
        return list(pool.map(lambda tab: tab.request(path, {"csrfmiddlewaretoken": token, **data})[0], tabs))


def test_start_fresh_pressed_four_times_at_once_keeps_one_file_aside_and_names_it(shop, launch):
    conn = sqlite3.connect(shop.db)
    conn.execute("CREATE TABLE legacy_sales (id INTEGER PRIMARY KEY, total_pence INTEGER)")
    conn.execute("INSERT INTO legacy_sales (total_pence) VALUES (1250), (830)")
    conn.commit()
    conn.close()
    legacy_sha = sha(shop.db)
    window = _window(launch(shop))
    assert "Incompatible Database Detected" in window.request("/startup/")[2]
    statuses = _pressed_at_once(
        window,
        "/startup/action/start_fresh/",
        "/startup/confirm/start_fresh/",
        {"typed": "CONFIRM", "new_shop": "demo"},
        times=4,
    )
    assert all(s in (200, 503) for s in statuses), statuses  # 503: the recovery page, while the first one works
    (old,) = _kept_aside(shop.data_dir)  # one press did it; the others were dropped
    assert sha(old) == legacy_sha, "the file kept aside is the shop's database, byte for byte"
    wait_until(lambda: 'id="outcome"' in window.request("/startup/")[2], what="start fresh's outcome")
    assert f"kept aside unchanged as {old.name}" in window.request("/startup/")[2]
    assert [r["outcome"] for r in history(shop.data_dir)].count("start_fresh") == 1


def test_restore_pressed_three_times_at_once_restores_once(v1_shop, launch):
    add_staff(v1_shop.db)
    assert v1_shop.manage("backup_db").returncode == 0
    (older,) = (v1_shop.data_dir / "backups").glob("*.db")
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('after the backup', 1)")
    conn.commit()
    conn.close()
    live_dump = dump(v1_shop.db)
    window = _window(launch(v1_shop, "fail2"))
    statuses = _pressed_at_once(
        window,
        "/startup/action/restore/",
        "/startup/confirm/restore/",
        {"pin": MANAGER_PIN, "backup": older.name},
        times=3,
    )
    assert all(s in (200, 503) for s in statuses), statuses
    wait_until(lambda: 'id="outcome"' in window.request("/startup/")[2], what="the restore's outcome")
    text = window.request("/startup/")[2]
    assert f"The backup {older.name}" in text and "This update already failed on this database." in text
    restores = [r for r in history(v1_shop.data_dir) if r["outcome"] == "restored"]
    assert len(restores) == 1, restores
    assert dump(v1_shop.db) == dump(older)
    assert dump(Path(restores[0]["restore_point"])) == live_dump
    leftovers = [p.name for p in v1_shop.data_dir.rglob("*") if p.name.endswith((".partial", "restore-tmp"))]
    assert not leftovers and not list(v1_shop.data_dir.glob("*in-progress*.json"))


def test_a_restore_cut_off_by_a_crash_is_finished_before_the_known_failure_page(v1_shop, launch, page):
    """The next start finishes what a crash left, then says the update already failed: no marker stays behind."""
    assert v1_shop.manage("backup_db").returncode == 0
    (older,) = (v1_shop.data_dir / "backups").glob("*.db")
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES ('after the backup', 1)")
    conn.commit()
    conn.close()
    first = launch(v1_shop, "fail2")  # the update fails once, and is remembered
    page.goto(first.url)
    assert _heading(page).endswith("Database Migration Failed")
    first.stop()
    v1_shop.kill_at("restore_swapping", "restore_db", str(older), chain="v1")
    assert (v1_shop.data_dir / "restore-in-progress.json").exists()

    app = launch(v1_shop, "fail2")
    page.goto(app.url)
    assert _heading(page).endswith("Database Migration Failed")
    assert "This update already failed on this database." in page.inner_text("main")
    assert not (v1_shop.data_dir / "restore-in-progress.json").exists(), "the restore was finished first"
    assert dump(v1_shop.db) == dump(older)
