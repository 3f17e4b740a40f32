"""The stable launcher frozen on its own (packaging/stable.spec) starts bundles, on trial, and falls back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers.bundle import start_bundle_headless

pytestmark = [pytest.mark.slow, pytest.mark.bundle]


@pytest.fixture(scope="session")
def stable_launcher(bundle) -> Path:
    """The stable launcher frozen into the bundle (packaging/build.py does it by default)."""
    assert bundle.launcher.is_file() and os.access(bundle.launcher, os.X_OK)
    return bundle.launcher


def _install(bundle_folder: Path, data: Path, version: str) -> Path:
    """Install the bundle as ``version`` the way an update does (hard links: no copy of 460 MB)."""
    target = data / "app" / "versions" / version / f"aurswift-{version}"
    target.parent.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(bundle_folder), str(target)], check=True)
    return target


def _run_until_serving(launcher: Path, data: Path) -> list[str]:
    """Start ``env -i … aurswift-launcher --headless``; stop it once a version serves; return its output."""
    app = start_bundle_headless(launcher, data, timeout=90)
    app.stop()
    return app.output


def test_stable_launcher_starts_an_installed_bundle_and_falls_back(bundle, stable_launcher, tmp_path):
    home = tmp_path / "AurSwift"  # the first install: the archive's bundle, the launcher beside the executable
    subprocess.run(["cp", "-al", str(bundle.folder), str(home)], check=True)
    data = tmp_path / "data"
    _install(bundle.folder, data, "9.0.0")
    (data / "app" / "current.json").write_text(json.dumps({"current": "9.0.0", "previous": "bundled", "trial": True}))

    lines = _run_until_serving(home / stable_launcher.name, data)
    assert "AurSwift stable launcher: starting 9.0.0 version" in lines, lines
    assert any(line.startswith("Serving on http://127.0.0.1:") for line in lines), lines

    broken = data / "app" / "versions" / "9.1.0" / "aurswift-9.1.0"
    broken.mkdir(parents=True)
    (broken / "aurswift").write_text("#!/bin/sh\necho broken\nexit 1\n")
    (broken / "aurswift").chmod(0o755)
    (data / "app" / "current.json").write_text(json.dumps({"current": "9.1.0", "previous": "9.0.0", "trial": True}))
    lines = _run_until_serving(home / stable_launcher.name, data)
    assert any("9.1.0 failed" in line and "back to 9.0.0" in line for line in lines), lines
    assert any(line.startswith("Serving on http://127.0.0.1:") for line in lines), lines
    assert json.loads((data / "app" / "current.json").read_text())["current"] == "9.0.0"
