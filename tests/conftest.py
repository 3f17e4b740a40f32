"""Fixtures shared by every test folder.

Each area keeps its own fixtures in its folder's conftest.py (tests/pos/,
tests/db/, tests/shell/, tests/admin/, tests/updates/).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO_ROOT = Path(__file__).resolve().parent.parent


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


class HeadlessApp:
    """A ``launcher.py --headless`` process and the URL it printed."""

    def __init__(self, proc, url: str, output: list[str]) -> None:
        self.proc, self.url, self.output = proc, url, output

    @property
    def base(self) -> str:
        """Return ``http://127.0.0.1:<port>`` without the one-time path."""
        return "/".join(self.url.split("/")[:3])

    def wait_for(self, text: str, count: int = 1, timeout: float = 120.0) -> None:
        """Wait until ``text`` has been printed ``count`` times."""

        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.output) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} {count}×:\n" + "\n".join(self.output))
            time.sleep(0.1)

    def stop(self) -> None:

        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the launcher and anything it started
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def start_headless(env: dict[str, str], *args: str, timeout: float = 60.0, script: str = "launcher.py") -> HeadlessApp:
    """Start the launcher (or the stable launcher) headless and wait for its ``Serving on`` line."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / script), "--headless", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # stop() ends the launcher and anything it started
    )
    output: list[str] = []
    found = threading.Event()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            output.append(line.rstrip("\n"))
            if line.startswith("Serving on "):
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.is_set():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("launcher did not start:\n" + "\n".join(output))
        found.wait(0.1)
    url = next(line for line in output if line.startswith("Serving on ")).split(" ", 2)[2]
    return HeadlessApp(proc, url, output)


@pytest.fixture
def headless_app(app_env: dict[str, str]):
    """Yield a running headless launcher on a fresh data directory."""
    app = start_headless(app_env)
    yield app
    app.stop()


@contextlib.contextmanager
def small_tmpfs(mount_point: Path, size: str = "40m"):
    """Mount a real small filesystem for disk-full tests; skip, saying why, where mounting is refused."""

    mount_point.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill_disk(folder: Path, leave_bytes: int) -> None:
    """Fill the file system under ``folder`` with a real file until about ``leave_bytes`` are free."""

    with open(folder / "filler.bin", "wb") as out:
        while shutil.disk_usage(folder).free > leave_bytes + 1024 * 1024:
            out.write(b"\0" * (1024 * 1024))
            out.flush()


@contextlib.contextmanager
def holding_write_lock(db: Path):
    """Yield another process that holds the database's write lock (BEGIN IMMEDIATE)."""

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        yield holder
    finally:
        holder.kill()
        holder.wait()
