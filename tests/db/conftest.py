"""Fixtures for the guarded-upgrade tests: real database files, real subprocesses."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHAINS = "tests.db.fixture_apps.shopext."


def ro_uri(path: Path) -> str:
    """Return a read-only SQLite URI for ``path`` (percent-encoded: folder names may hold '#' or '?')."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(path: Path) -> list[str]:
    """Return the database's schema and rows as text: equal dumps mean equal data."""
    conn = sqlite3.connect(ro_uri(path), uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


class Shop:
    """A data directory and a way to run ``manage.py`` on it with a migration chain."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env, self.data_dir = env, data_dir
        self.db = data_dir / "pos_system.db"

    def move_to(self, data_dir: Path) -> None:
        """Copy the shop's data directory to ``data_dir`` (e.g. a small filesystem) and use it from now on."""
        shutil.copytree(self.data_dir, data_dir)
        self.env["AURSWIFT_DATA_DIR"] = str(data_dir)
        self.data_dir, self.db = data_dir, data_dir / "pos_system.db"

    def env_for(self, chain: str | None) -> dict[str, str]:
        env = dict(self.env)
        if chain:
            env["AURSWIFT_EXTRA_APPS"] = "tests.db.fixture_apps.shopext"
            env["AURSWIFT_MIGRATION_MODULES"] = f"shopext={CHAINS}{chain}" if chain != "none" else "shopext="
        return env

    def manage(self, *args: str, chain: str | None = "v1", timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=self.env_for(chain),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def upgrade_json(self, chain: str | None = "v1") -> tuple[int, dict]:
        proc = self.manage("upgrade_db", "--json", chain=chain)
        return proc.returncode, json.loads(proc.stdout)

    def columns(self, table: str) -> list[str]:
        conn = sqlite3.connect(ro_uri(self.db), uri=True)
        try:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        finally:
            conn.close()

    def count(self, table: str) -> int:
        conn = sqlite3.connect(ro_uri(self.db), uri=True)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()


def add_shop_data(db: Path, widgets: int = 50) -> None:
    """Put some of a shop's data in: categories, a VAT rate, products, widgets."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO pos_vatrate (name, rate_bp) VALUES ('Standard', 2000)")
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('Drinks', 0, '#000000')")
        for i in range(widgets):
            conn.execute(
                "INSERT INTO pos_product (name, category_id, price_minor, vat_rate_id, active) VALUES (?, 1, ?, 1, 1)",
                (f"Product {i}", 100 + i),
            )
            conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES (?, 1)", (f"Widget {i}",))
    conn.close()


@pytest.fixture
def shop(app_env: dict[str, str], data_dir: Path) -> Shop:
    """Return an empty data directory wrapped for ``manage.py`` calls."""
    return Shop(app_env, data_dir)


@pytest.fixture
def v1_shop(shop: Shop) -> Shop:
    """Return a shop whose database is at the v1 chain, with data in it."""
    code, out = shop.upgrade_json("v1")
    assert code == 0, out
    add_shop_data(shop.db)
    return shop


@pytest.fixture
def live_db(tmp_path: Path) -> Path:
    """A small WAL-mode database with one applied migration and 1,000 sales (totals 0..999)."""
    db = tmp_path / "pos_system.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('pos', '0001_initial', 'now')")
    conn.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, total_minor INTEGER)")
    conn.executemany("INSERT INTO sale (total_minor) VALUES (?)", [(i,) for i in range(1000)])
    conn.commit()
    conn.close()
    return db
