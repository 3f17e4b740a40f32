"""One writer at a time: the data directory's maintenance lock (docs/design.md section 4).

The running app holds it for its whole life; ``upgrade_db``, ``restore_db``,
``accept_migration`` and every recovery action take it or refuse, naming the
process that holds it. Without it, a terminal's failing upgrade could restore
its backup under a till that has sold since, or two upgrades could take each
other's marker for a crash.

It is an OS file lock (filelock: ``flock`` on POSIX, ``LockFileEx`` on
Windows), so a killed holder's lock is released by the operating system. A
record beside it says who holds it, for the refusal message. Within one
process the file lock is held once (the app holds it for its life), and one
maintenance step runs at a time: another thread's step is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from maintenance import exceptions
from maintenance.files import write_json_atomic

LOCK_NAME = "aurswift.lock"
RECORD_NAME = "aurswift.instance.json"

_guard = threading.Lock()
_held: dict[Path, FileLock] = {}
_steps: dict[Path, threading.RLock] = {}  # one maintenance step at a time inside this process, per data folder


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as far as its record and the process table tell."""

    pid: int | None
    role: str  # "app" | "command" | "unknown"
    command: str = ""
    port: int | None = None
    focus_token: str | None = None

    @property
    def description(self) -> str:
        if self.role == "app":
            return "AurSwift"
        if self.role == "command":
            return self.command or "a maintenance command"
        return "another AurSwift process"

    def refusal(self) -> exceptions.DatabaseLockedError:
        """Return the error a second writer gets, naming this holder."""
        pid = f" (process {self.pid})" if self.pid else ""
        if self.role == "app":
            message = (
                f"AurSwift is running{pid}: quit it first, or use Database maintenance in the admin. "
                "Nothing was changed."
            )
        else:
            message = f"{self.description.capitalize()} is running{pid}: wait for it to finish. Nothing was changed."
        return exceptions.DatabaseLockedError(message, holder_pid=self.pid, holder_name=self.description)


def _key(data_dir: Path) -> Path:
    return Path(os.path.abspath(data_dir))


def holds(data_dir: Path) -> bool:
    """Return whether this process holds the lock of ``data_dir``."""
    with _guard:
        return _key(data_dir) in _held


def try_acquire(data_dir: Path, *, role: str, **record: object) -> Holder | None:
    """Take the lock for this process and publish who we are; return the other holder if taken."""
    key = _key(data_dir)
    with _guard:
        if key in _held:
            return None
        lock = FileLock(str(key / LOCK_NAME))
        try:
            key.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=0)
        except Timeout:
            return read_holder(key)
        except OSError as err:
            raise exceptions.ReadOnlyError(
                f"AurSwift cannot write to its data folder {key} ({err.strerror or err}). Check that the disk "
                "is not read-only or full and that this user may write there. Nothing was changed."
            ) from err
        _held[key] = lock
    publish(data_dir, role=role, **record)
    return None


def publish(data_dir: Path, *, role: str, **record: object) -> None:
    """Write the record a refused process reads to name us."""
    proc = psutil.Process()
    data = {"pid": proc.pid, "create_time": proc.create_time(), "role": role, **record}
    data.setdefault("command", " ".join(os.path.basename(a) for a in sys.argv[:2]))
    with contextlib.suppress(OSError):  # the record only names us; the lock is what counts
        write_json_atomic(_key(data_dir) / RECORD_NAME, data, mode=0o600)


def release(data_dir: Path) -> None:
    key = _key(data_dir)
    with _guard:
        lock = _held.pop(key, None)
    if lock is not None:
        (key / RECORD_NAME).unlink(missing_ok=True)
        lock.release()


def step_running_in_another_thread(data_dir: Path) -> bool:
    """Return whether another thread of this process is running a maintenance step (see :func:`held`)."""
    with _guard:
        step = _steps.get(_key(data_dir))
    if step is None or step.acquire(blocking=False):  # free (or held by this very thread)
        if step is not None:
            step.release()
        return False
    return True


def read_holder(data_dir: Path) -> Holder:
    """Return who holds the lock according to its record (``unknown`` when the record is gone or stale)."""
    try:
        record = json.loads((_key(data_dir) / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Holder(None, "unknown")
    pid = record.get("pid")
    if not isinstance(pid, int) or not process_alive(pid, record.get("create_time")):
        return Holder(pid if isinstance(pid, int) else None, "unknown")
    return Holder(
        pid,
        str(record.get("role", "unknown")),
        str(record.get("command", "")),
        record.get("port"),
        record.get("focus_token"),
    )


def process_alive(pid: int, create_time: float | None) -> bool:
    """Return whether process ``pid`` still runs (and is the same process, when its start time is known)."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - float(create_time)) > 1.0:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def owner_record() -> dict[str, object]:
    """Return this process's identity, for markers that must know whether their owner is gone."""
    proc = psutil.Process()
    return {"pid": proc.pid, "create_time": proc.create_time()}


@contextlib.contextmanager
def held(data_dir: Path, *, role: str = "command") -> Iterator[None]:
    """Hold the maintenance lock for the block, or raise DatabaseLockedError naming the holder.

    If this process already holds it (the app), the block runs and the lock
    stays held afterwards. Inside a process the step itself is exclusive too:
    a second thread (a recovery button pressed while the start-up upgrades)
    is refused rather than let two steps change the files at once; the same
    thread may nest steps (a restore runs the upgrade it needs).
    """
    with _guard:
        step = _steps.setdefault(_key(data_dir), threading.RLock())
    if not step.acquire(blocking=False):
        raise exceptions.DatabaseLockedError(
            "AurSwift is already running a maintenance step on this database: wait for it to finish. "
            "Nothing was changed.",
            holder_pid=os.getpid(),
            holder_name="AurSwift",
        )
    try:
        if holds(data_dir):
            yield
            return
        other = try_acquire(data_dir, role=role)
        if other is not None:
            raise other.refusal()
        try:
            yield
        finally:
            release(data_dir)
    finally:
        step.release()
