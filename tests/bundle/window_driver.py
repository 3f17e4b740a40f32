"""Run under xvfb-run: open the real AurSwift window from the frozen bundle and screenshot it.

Usage: window_driver.py BUNDLE_EXECUTABLE DATA_DIR SHOT.png

The bundle runs with a clean environment (the display and the data directory
only: no virtualenv, no PATH). Prints the bundle's output, ``timing
process-to-signin <seconds>`` and exits 0 once the sign-in page loaded and
the screen was captured.
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


def main() -> int:
    executable, data_dir, shot = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    home = data_dir / "home"  # Qt WebEngine's profile of its own: no clash with other windows' helpers
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AURSWIFT_DATA_DIR": str(data_dir),
        "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox",  # root: QtWebEngine refuses to start sandboxed
        "HOME": str(home),
    }
    for name in ("DISPLAY", "XAUTHORITY"):
        if name in os.environ:
            env[name] = os.environ[name]
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(executable)],
        cwd=data_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the window and its Qt WebEngine helpers stop together
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = started + 120
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                print("timed out waiting for the sign-in page")
                return 1
            if line is None:
                print(f"the bundle exited ({proc.wait()}) before showing the sign-in page")
                return 1
            sys.stdout.write("bundle: " + line)
            if line.startswith("Page loaded:") and "/signin/" in line:
                break
        print(f"timing process-to-signin {time.monotonic() - started:.2f}", flush=True)
        time.sleep(2.0)  # let the page paint
        subprocess.run(["import", "-window", "root", str(shot)], check=True)
        return 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
