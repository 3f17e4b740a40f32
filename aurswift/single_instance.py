"""One AurSwift per data directory: the app holds the maintenance lock for its whole life.

The lock is ``maintenance.db.writer_lock`` (an OS file lock, released by the
operating system when a process dies); its record (pid, port, a focus token)
tells a second launch which process is running and lets it ask that window
to come forward, and tells a terminal command why it is refused.
"""

from __future__ import annotations

import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from maintenance.db import writer_lock


@dataclass
class OtherInstance:
    pid: int | None
    description: str
    port: int | None = None
    focus_token: str | None = None


class InstanceLock:
    """Hold the data directory's maintenance lock for the life of the app (see ``writer_lock``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.focus_token = secrets.token_urlsafe(16)

    def acquire(self) -> OtherInstance | None:
        """Take the lock; return the other holder (an app or a maintenance command) if there is one."""
        other = writer_lock.try_acquire(self.data_dir, role="app")
        if other is None:
            return None
        return OtherInstance(other.pid, other.description, other.port, other.focus_token)

    def publish(self, port: int) -> None:
        """Write who we are, for a second launch (or a command) to find."""
        writer_lock.publish(self.data_dir, role="app", port=port, focus_token=self.focus_token, command="AurSwift")

    def other(self) -> OtherInstance:
        holder = writer_lock.read_holder(self.data_dir)
        return OtherInstance(holder.pid, holder.description, holder.port, holder.focus_token)

    def release(self) -> None:
        writer_lock.release(self.data_dir)


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
