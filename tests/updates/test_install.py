"""End to end on loopback: version 1 installs version 2, which upgrades the database — or falls back.

"Version 1" is this checkout (the bundled version the stable launcher starts
when nothing is installed). Version 2 is built by ``build_release`` from a
clone that adds a model field and its migration.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.updates import FAILING_MIGRATION, FIELD_MIGRATION, Server, build, release


def _shop_with_a_sale(env: dict[str, str]) -> None:
    assert manage("upgrade_db", env=env).returncode == 0
    code = (
        "import django; django.setup()\n"
        "from pos.services import demo, orders\n"
        "from pos.models import Product\n"
        "from django.contrib.auth import get_user_model\n"
        "demo.create_demo_data()\n"
        "cashier = get_user_model().objects.get(username='cashier')\n"
        "order = orders.open_order(cashier)\n"
        "orders.add_product(order, Product.objects.get(name='Latte'), 2)\n"
        "orders.pay(order, 'cash', taken_by=cashier, tendered_minor=1000)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        check=True,
        env={**env, "DJANGO_SETTINGS_MODULE": "aurswift.settings"},
    )


def _stable(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "aurswift_stable.py"), "--headless"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _read_until(proc: subprocess.Popen, needle: str, count: int = 1, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line.rstrip())
        if needle in line:
            seen += 1
            if seen == count:
                return lines
    raise AssertionError(f"never saw {needle!r}:\n" + "\n".join(lines))


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        return  # already gone
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def client_env(app_env):
    def make(repo: Path, server: Server) -> dict[str, str]:
        return {
            **app_env,
            "AURSWIFT_UPDATE_URL": server.url,
            "AURSWIFT_UPDATE_TRUSTED_ROOT": str(repo / "metadata" / "1.root.json"),
        }

    return make


def _sales(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM pos_order WHERE status='paid'").fetchone()[0]
    finally:
        conn.close()


def _columns(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[1] for r in conn.execute("PRAGMA table_info(pos_product)")]
    finally:
        conn.close()


def test_update_installs_relaunches_and_upgrades_the_database(tmp_path, client_env, data_dir):
    repo = release(tmp_path / "good", FIELD_MIGRATION)
    server = Server(repo)
    try:
        env = client_env(repo, server)
        _shop_with_a_sale(env)
        assert manage("check_update", env=env).stdout.strip() == "Update available: 0.2.0"
        assert manage("apply_update", env=env).returncode == 0
        proc = _stable(env)
        try:
            lines = _read_until(proc, "Serving on ")
            assert "starting 0.2.0 version" in "\n".join(lines)
            deadline = time.monotonic() + 60
            while json.loads((data_dir / "app" / "current.json").read_text())["trial"] and time.monotonic() < deadline:
                time.sleep(0.2)
            state = json.loads((data_dir / "app" / "current.json").read_text())
            assert state == {**state, "current": "0.2.0", "previous": "bundled", "trial": False}
        finally:
            _stop(proc)
    finally:
        server.stop()
    db = data_dir / "pos_system.db"
    assert "allergens" in _columns(db), "the new version's migration ran"
    assert _sales(db) == 1, "the sale made under version 1 is still there"
    backups = [json.loads(p.read_text()) for p in (data_dir / "backups").glob("*.json")]
    assert any(b["reason"] == "before_migration" for b in backups)


def test_an_update_staged_then_left_for_later_is_installed_when_the_app_quits(tmp_path, client_env, data_dir):
    import psutil

    repo = release(tmp_path / "later", FIELD_MIGRATION)
    server = Server(repo)
    try:
        env = client_env(repo, server)
        proc = _stable(env)
        try:
            _read_until(proc, "Serving on ")
            assert manage("apply_update", env=env).returncode == 0  # downloaded while the till runs
            assert not (data_dir / "app" / "current.json").exists(), "nothing installed while running"
            (app,) = psutil.Process(proc.pid).children()
            app.send_signal(signal.SIGINT)  # the cashier closes the window: a normal quit (exit 0)
            lines = _read_until(proc, "installed 0.2.0 on quit")
            assert proc.wait(timeout=30) == 0, lines
        finally:
            _stop(proc)
    finally:
        server.stop()
    state = json.loads((data_dir / "app" / "current.json").read_text())
    assert state == {**state, "current": "0.2.0", "previous": "bundled", "trial": True}
    assert (data_dir / "app" / "versions" / "0.2.0").is_dir()
    assert not (data_dir / "updates" / "staged" / "0.2.0").exists()
    assert "allergens" not in _columns(data_dir / "pos_system.db"), "the database is upgraded by 0.2.0 itself"


def test_update_whose_migration_fails_falls_back_to_the_previous_version(tmp_path, client_env, data_dir):
    repo = release(tmp_path / "bad", FAILING_MIGRATION)
    server = Server(repo)
    try:
        env = client_env(repo, server)
        _shop_with_a_sale(env)
        db = data_dir / "pos_system.db"
        before = sqlite3.connect(db)
        dump_before = list(before.iterdump())
        before.close()
        assert manage("apply_update", env=env).returncode == 0
        proc = _stable(env)
        try:
            lines = _read_until(proc, "Serving on ", count=2)
            text = "\n".join(lines)
            assert "Update 0.2.0 could not start: Database Migration Failed" in text
            assert "back to bundled" in text and "starting bundled version" in text
        finally:
            _stop(proc)
    finally:
        server.stop()
    fallback = json.loads((data_dir / "app" / "fallback.json").read_text())
    assert fallback["failed_version"] == "0.2.0" and "could not upgrade the database" in fallback["reason"]
    after = sqlite3.connect(db)
    assert list(after.iterdump()) == dump_before, "the database is exactly as version 1 left it"
    after.close()
    assert "allergens" not in _columns(db) and _sales(db) == 1
    failed = json.loads((data_dir / "app" / "failed_versions.json").read_text())
    assert [e["version"] for e in failed["versions"]] == ["0.2.0"], "the stable launcher remembers the failure"

    # the failed version is not offered again on this machine; a newer release is
    server = Server(repo)
    try:
        env = client_env(repo, server)
        check = manage("check_update", env=env)
        assert (check.returncode, check.stdout.strip()) == (0, "Up to date: 0.1.0"), check.stderr
        assert "Update 0.2.0 could not be installed on this machine earlier" in check.stderr
        applied = manage("apply_update", env=env)
        assert (applied.returncode, applied.stdout.strip()) == (0, "Up to date: 0.1.0"), applied.stderr
        assert not (data_dir / "updates" / "staged" / "0.2.0").exists()
        _fix_and_build(tmp_path / "bad")  # 0.2.1, published to the same repository
        check = manage("check_update", env=env)
        assert (check.returncode, check.stdout.strip()) == (0, "Update available: 0.2.1"), check.stderr
        offer = json.loads(manage("check_update", "--json", env=env).stdout)
        assert offer["update_available"] is True and offer["skipped_versions"] == ["0.2.0"]
    finally:
        server.stop()


def _fix_and_build(base: Path) -> None:
    """Commit a fix on top of ``base/project`` and build it into ``base/repo`` with the same keys."""
    project = base / "project"
    (project / "pos" / "migrations" / "0003_product_allergens.py").write_text(FIELD_MIGRATION)
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    subprocess.run([*git, "commit", "-qam", "fix: the allergen import no longer fails"], check=True)
    build(base)


def test_update_that_crashes_before_ready_falls_back_and_the_admin_says_why(
    tmp_path, client_env, data_dir, db, settings
):
    repo = release(tmp_path / "crash", FIELD_MIGRATION, crash=True)
    server = Server(repo)
    try:
        env = client_env(repo, server)
        _shop_with_a_sale(env)
        assert manage("apply_update", env=env).returncode == 0
        proc = _stable(env)
        try:
            text = "\n".join(_read_until(proc, "Serving on "))
            assert "0.2.0 failed (the new version stopped before it was ready" in text
            assert "starting bundled version" in text
        finally:
            _stop(proc)
    finally:
        server.stop()
    assert "allergens" not in _columns(data_dir / "pos_system.db") and _sales(data_dir / "pos_system.db") == 1

    from django.contrib.auth import get_user_model
    from django.test import Client

    from pos.services import demo

    settings.DATA_DIR = data_dir
    demo.create_demo_data()
    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get("/admin/maintenance/softwareupdate/").content.decode()
    assert "0.2.0 could not start (the new version stopped before it was ready" in page
