"""Run under xvfb-run: open the real AurSwift window twice and screenshot it.

Usage: window_driver.py OUTDIR. Prints ``timing <name> <seconds>`` lines and
writes first-run.png (welcome page) and till.png (second start, sign-in).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_once(out: Path, shot: str, wanted: str, timeout: float = 90.0) -> None:
    env = dict(os.environ, QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox", PYWEBVIEW_GUI="qt", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launcher.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first_load = None
    try:
        deadline = started + timeout
        for line in proc.stdout:  # type: ignore[union-attr]
            sys.stdout.write("launcher: " + line)
            if line.startswith("Page loaded:"):
                first_load = first_load or time.monotonic()
                if wanted in line:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {wanted}")
        else:
            raise SystemExit(f"launcher exited before showing {wanted}")
        ready = time.monotonic()
        print(f"timing {shot}-process-to-first-page {first_load - started:.2f}")
        print(f"timing {shot}-window-open-to-{wanted.strip('/')} {ready - first_load:.2f}")
        time.sleep(1.5)  # let the page paint
        subprocess.run(["import", "-window", "root", str(out / f"{shot}.png")], check=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    out = Path(sys.argv[1])
    run_once(out, "first-run", "/startup/")
    run_once(out, "till", "/signin/")


if __name__ == "__main__":
    main()
