"""The frozen bundle (packaging/): built once per session, reused while its inputs are unchanged.

The helpers (building into the cache, running a bundle through ``env -i``, a
loopback update server) live in tests/helpers/bundle.py.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers.bundle import CACHE, Bundle, build_cached, cache_key, describe, keep_only


def pytest_configure(config: pytest.Config) -> None:
    # `-m bundle` selects these tests; registered here, not in pyproject.toml.
    config.addinivalue_line("markers", "bundle: builds and runs the frozen PyInstaller bundle (packaging/)")


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    """Build the bundle (with its stable launcher) and its first-install archive once, or reuse the cached build."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[bundle]' (scripts/setup.sh)")
    key = cache_key()
    built = build_cached(CACHE / key)
    keep_only(key)
    print(describe(built))
    return built
