"""The app as a process: a headless launcher and the URL it printed, and waiting on what it prints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO_ROOT / "test-output" / "screenshots"


def wait_until(condition: Callable[[], object], *, timeout: float = 60.0, what: str = "the condition") -> None:
    """Wait for another process to reach a state we can only observe (a file it writes, a line it prints)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots/ (the docs use some of them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


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
        try:
            wait_until(lambda: sum(text in line for line in self.output) >= count, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"never saw {text!r} {count}×:\n" + "\n".join(self.output)) from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the launcher and anything it started
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def start_serving(
    command: list[str], *, env: dict[str, str] | None, cwd: Path, timeout: float = 60.0, what: str = "the launcher"
) -> HeadlessApp:
    """Start ``command`` (a launcher or a bundle with ``--headless``) and wait for its ``Serving on`` line."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
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
            HeadlessApp(proc, "", output).stop()
            raise RuntimeError(f"{what} did not start:\n" + "\n".join(output))
        found.wait(0.1)
    url = next(line for line in output if line.startswith("Serving on ")).split(" ", 2)[2]
    return HeadlessApp(proc, url, output)


def start_headless(env: dict[str, str], *args: str, timeout: float = 60.0, script: str = "launcher.py") -> HeadlessApp:
    """Start the launcher (or the stable launcher) of this checkout headless and wait until it serves."""
    command = [sys.executable, str(REPO_ROOT / script), "--headless", *args]
    return start_serving(command, env=env, cwd=REPO_ROOT, timeout=timeout)


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``manage.py`` of this checkout as a process, as support or a test outside the project would."""
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
