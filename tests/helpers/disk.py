"""Real small filesystems for disk-full tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest


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
