"""Fixtures for the desktop shell: headless launches on real, deliberately broken data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import HeadlessApp, start_headless
from tests.db.conftest import Shop, shop, v1_shop  # noqa: F401 - the same fixtures as tests/db

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def launch(request):
    """Return a function that starts the headless app for a shop and a migration chain."""
    apps: list[HeadlessApp] = []

    def start(target: Shop, chain: str | None = "v1") -> HeadlessApp:
        app = start_headless(target.env_for(chain))
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
