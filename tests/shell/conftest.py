"""Fixtures for the desktop shell: headless launches on real, deliberately broken data."""

from __future__ import annotations

import pytest

from tests.helpers.app import HeadlessApp, start_headless
from tests.helpers.shop import Shop


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
