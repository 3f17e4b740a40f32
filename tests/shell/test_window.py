"""The real desktop window: pywebview's Qt backend under Xvfb, screenshotted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT

pytestmark = pytest.mark.window
SHOTS = REPO_ROOT / "test-output" / "screenshots"


def _colours(png: Path) -> int:
    out = subprocess.run(["identify", "-format", "%k", str(png)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_window_opens_on_the_till(app_env, tmp_path):
    if not shutil.which("xvfb-run") or not shutil.which("import"):
        pytest.skip("xvfb-run and imagemagick's import are needed (scripts/setup.sh installs them)")
    proc = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            str(REPO_ROOT / "tests" / "shell" / "window_driver.py"),
            str(tmp_path),
        ],
        env=app_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    assert proc.returncode == 0
    assert "Page loaded: http://127.0.0.1:" in proc.stdout
    for name in ["first-run", "till"]:
        shot = tmp_path / f"{name}.png"
        assert shot.exists()
        # a black or blank screen has a handful of colours; a rendered page has many
        assert _colours(shot) > 50, f"{name}.png looks blank"
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SHOTS / f"window-{name}.png")
    timings = [line for line in proc.stdout.splitlines() if line.startswith("timing ")]
    assert len(timings) == 4, timings
