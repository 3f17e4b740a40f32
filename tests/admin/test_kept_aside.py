"""Kept-aside databases (``pos_system.db.old.<stamp>``) on the Backups page: verify, download, restore.

Also the pieces of wording the maintenance pages share: release notes
rendered from a safe Markdown subset, and states in words.
"""

from __future__ import annotations

import sqlite3

import pytest

from maintenance.updates.notes import render_notes
from tests.helpers.admin import BASE, shot, sign_in_as_manager


def test_release_notes_render_headings_and_lists_and_escape_everything():
    html = str(
        render_notes(
            "# 0.2.0\n\n## Features\n- **Faster** backups\n- `check_db` <script>alert(1)</script>\n\n"
            "Plain text & more.\n1. one\n2. two\n[link](javascript:alert(1))"
        )
    )
    assert "<h3>0.2.0</h3>" in html and "<h4>Features</h4>" in html
    assert "<ul>\n<li><strong>Faster</strong> backups</li>" in html
    assert "<code>check_db</code> &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<p>Plain text &amp; more.</p>" in html and "<ol>\n<li>one</li>\n<li>two</li>\n</ol>" in html
    assert "<script" not in html and "<a " not in html


@pytest.mark.browser
def test_a_kept_aside_database_can_be_verified_downloaded_and_restored(headless_app, page, data_dir, tmp_path):
    base = headless_app.base
    sign_in_as_manager(headless_app, page)
    live = data_dir / "pos_system.db"
    kept = data_dir / "pos_system.db.old.20250102-030405"
    src = sqlite3.connect(live)
    dst = sqlite3.connect(kept)
    src.backup(dst)
    dst.execute("UPDATE pos_product SET name = 'Kept espresso' WHERE name = 'Espresso'")
    dst.commit()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    src.close()
    garbage = data_dir / "pos_system.db.old.20250101-000000"
    garbage.write_bytes(b"not a database at all" * 100)

    page.goto(base + BASE + "backups/")
    table = page.inner_text("#kept-aside")
    assert kept.name in table and garbage.name in table
    assert "32 products" in table and "cannot be read" in table, "each says what it holds"
    shot(page, "kept-aside")

    row = page.locator(f"#kept-aside tr[data-name='{kept.name}']")
    row.get_by_role("button", name="Verify").click()
    page.wait_for_selector(f"text={kept.name} is intact (integrity check passed) and can be restored.")

    with page.expect_download() as download_info:
        page.locator(f"#kept-aside tr[data-name='{kept.name}']").get_by_role("link", name="Download").click()
    downloaded = tmp_path / "download.db"
    download_info.value.save_as(downloaded)
    assert downloaded.read_bytes() == kept.read_bytes()

    page.locator(f"#kept-aside tr[data-name='{garbage.name}']").get_by_role("link", name="Restore…").click()
    page.get_by_role("button", name="Restore this database").click()
    page.wait_for_selector("text=cannot be restored")
    assert garbage.exists() and kept.exists(), "kept-aside files are never deleted"

    page.locator(f"#kept-aside tr[data-name='{kept.name}']").get_by_role("link", name="Restore…").click()
    assert "kept-aside database" in page.inner_text("#content-main")
    page.get_by_role("button", name="Restore this database").click()
    page.wait_for_selector(f"text=Restored {kept.name}")
    conn = sqlite3.connect(live)
    assert conn.execute("SELECT count(*) FROM pos_product WHERE name = 'Kept espresso'").fetchone()[0] == 1
    conn.close()
    assert kept.exists()


@pytest.mark.browser
def test_kept_aside_names_outside_the_pattern_are_refused(headless_app, page, data_dir):
    sign_in_as_manager(headless_app, page)
    for name in ("secret_key", "pos_system.db", "pos_system.db.old.x", "..%2Fsecret_key"):
        response = page.goto(headless_app.base + BASE + f"backups/{name}/download/")
        assert response.status == 404, name
