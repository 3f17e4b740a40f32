"""Fixtures for the desktop shell: headless launches on real, deliberately broken data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import HeadlessApp, start_headless
from tests.db.conftest import Shop, add_shop_data

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shop(app_env, data_dir) -> Shop:
    return Shop(app_env, data_dir)


@pytest.fixture
def v1_shop(shop: Shop) -> Shop:
    code, out = shop.upgrade_json("v1")
    assert code == 0, out
    add_shop_data(shop.db)
    return shop


@pytest.fixture
def launch(request):
    """Return a function that starts the headless app for a shop and a migration chain."""
    apps: list[HeadlessApp] = []

    def start(shop: Shop, chain: str | None = "v1") -> HeadlessApp:
        app = start_headless(shop.env_for(chain))
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


def screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
