"""Fixtures shared by every test folder.

Each area keeps its own fixtures in its folder's conftest.py (tests/pos/,
tests/db/, tests/shell/, tests/admin/, tests/updates/); functions and classes
the tests share live in tests/helpers/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.app import CHROMIUM, start_headless
from tests.helpers.shop import Shop, add_shop_data


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Return an empty AurSwift data directory for this test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def app_env(data_dir: Path) -> dict[str, str]:
    """Return the environment for a subprocess (launcher, manage.py) on ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env["AURSWIFT_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Point pytest-playwright at Debian's Chromium (no browser download here)."""
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture
def headless_app(app_env: dict[str, str]):
    """Yield a running headless launcher on a fresh data directory."""
    app = start_headless(app_env)
    yield app
    app.stop()


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
