"""One AurSwift per data directory: a lock file, and a record of who holds it.

The lock is an OS file lock (filelock), so a crashed run's lock is released by
the operating system; the record (pid, port, a focus token) tells a second
launch which process is running and lets it ask that window to come forward.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

LOCK_NAME = "aurswift.lock"
RECORD_NAME = "aurswift.instance.json"


@dataclass
class OtherInstance:
    pid: int | None
    description: str
    port: int | None = None
    focus_token: str | None = None


class InstanceLock:
    """Hold the data directory's single-instance lock for the life of the process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = FileLock(str(data_dir / LOCK_NAME))
        self.focus_token = secrets.token_urlsafe(16)
        self.previous: dict | None = None  # the record a crashed run left behind

    def acquire(self) -> OtherInstance | None:
        """Take the lock; return the other instance if one is running."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return self.other()
        self.previous = _read_record(self.data_dir)
        return None

    def publish(self, port: int) -> None:
        """Write who we are, for a second launch to find."""
        record = {"pid": os.getpid(), "port": port, "focus_token": self.focus_token}
        path = self.data_dir / RECORD_NAME
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.replace(tmp, path)

    def other(self) -> OtherInstance:
        record = _read_record(self.data_dir) or {}
        pid = record.get("pid")
        description = "another AurSwift"
        if pid and psutil.pid_exists(pid):
            description = "AurSwift"
        return OtherInstance(pid, description, record.get("port"), record.get("focus_token"))

    def release(self) -> None:
        if self._lock.is_locked:
            (self.data_dir / RECORD_NAME).unlink(missing_ok=True)
            self._lock.release()


def _read_record(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / RECORD_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def ask_to_focus(other: OtherInstance) -> bool:
    """Ask the running instance to bring its window forward (best effort)."""
    if not other.port or not other.focus_token:
        return False
    request = urllib.request.Request(
        f"http://127.0.0.1:{other.port}/_instance/focus/",
        method="POST",
        headers={"X-AurSwift-Focus": other.focus_token},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 204
    except OSError:
        return False
