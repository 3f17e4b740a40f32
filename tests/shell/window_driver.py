"""Run under xvfb-run: open the real AurSwift window twice and screenshot it.

Usage: window_driver.py OUTDIR. Prints ``timing <name> <seconds>`` lines and
writes first-run.png (welcome page) and till.png (second start, sign-in).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_once(out: Path, shot: str, wanted: str, timeout: float = 90.0) -> None:
    # Its own home for Qt WebEngine's profile: a helper process left by an earlier window (this test's
    # or another's) must not hold the profile this window needs.
    home = out / f"home-{shot}"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox",
        PYWEBVIEW_GUI="qt",
        PYTHONUNBUFFERED="1",
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launcher.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the window and its Qt WebEngine helpers stop together
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    first_load = None
    try:
        deadline = started + timeout
        while True:  # the deadline holds even when the launcher prints nothing
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                raise SystemExit(f"timed out waiting for {wanted}") from None
            if line is None:
                raise SystemExit(f"launcher exited before showing {wanted}")
            sys.stdout.write("launcher: " + line)
            if line.startswith("Page loaded:"):
                first_load = first_load or time.monotonic()
                if wanted in line:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {wanted}")
        ready = time.monotonic()
        print(f"timing {shot}-process-to-first-page {first_load - started:.2f}")
        print(f"timing {shot}-window-open-to-{wanted.strip('/')} {ready - first_load:.2f}")
        time.sleep(1.5)  # let the page paint
        subprocess.run(["import", "-window", "root", str(out / f"{shot}.png")], check=True)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def main() -> None:
    out = Path(sys.argv[1])
    run_once(out, "first-run", "/startup/")
    run_once(out, "till", "/signin/")


if __name__ == "__main__":
    main()
