"""A busy database: how it is recognised, and the one place a busy run is tried again.

SQLite answers ``SQLITE_BUSY`` when another connection holds a lock it needs
and ``SQLITE_LOCKED`` for a conflict inside one process. Every connection of
the guard engine first waits up to :attr:`BusyPolicy.timeout_s` for the lock
(SQLite's busy timeout); when that is not enough, the error becomes a
:class:`~maintenance.exceptions.DatabaseLockedError`, and only
:func:`maintenance.db.upgrade.run_guarded_upgrade` tries the whole run again
(:func:`retrying`), reporting each retry as the start-up page shows it. No
other level retries: a busy error ends a run before it has changed anything
(classification, the backup's snapshot), so running it again is safe.

A refusal by another *writer* (the maintenance lock, a live upgrade's marker)
is a ``DatabaseLockedError`` too, but it is not "busy" (nothing SQLite said):
it is not retried, because waiting seconds does not make another program quit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from maintenance import exceptions

T = TypeVar("T")

#: The words SQLite uses for these errors, for errors that carry no code (Python < 3.11, or text only).
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")
_READ_ONLY_WORDS = ("readonly", "read-only")


@dataclass(frozen=True)
class BusyPolicy:
    """How long and how often a busy database is waited for."""

    attempts: int = 3  # whole runs, the first included
    waits: tuple[float, ...] = (1.0, 2.0)  # seconds before the 2nd, 3rd… attempt (the last repeats)
    timeout_s: float = 10.0  # SQLite's busy timeout of each connection that may wait for a lock

    def wait_before(self, attempt: int) -> float:
        """Return the pause before attempt ``attempt`` (2, 3, …)."""
        return self.waits[min(attempt - 2, len(self.waits) - 1)] if self.waits else 0.0


POLICY = BusyPolicy()


def _primary_code(err: BaseException) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None  # extended codes (BUSY_SNAPSHOT…) share the low byte


def is_busy(err: BaseException | None) -> bool:
    """Return whether ``err`` (or the SQLite error it was raised from) means: another connection holds a lock."""
    if err is None:
        return False
    if isinstance(err, sqlite3.Error):
        code = _primary_code(err)
        if code is not None:
            return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        return any(word in str(err).lower() for word in _BUSY_WORDS)
    if isinstance(err, exceptions.DatabaseLockedError):
        return is_busy(err.__cause__)
    return isinstance(err.__cause__, sqlite3.Error) and is_busy(err.__cause__)  # Django's wrapper of SQLite's error


def is_read_only(err: BaseException) -> bool:
    """Return whether an SQLite error means the file (or its folder) cannot be written."""
    code = _primary_code(err)
    if code is not None and code == sqlite3.SQLITE_READONLY:
        return True
    return any(word in str(err).lower() for word in _READ_ONLY_WORDS)


def retrying(
    run: Callable[[], T],
    *,
    on_retry: Callable[[int], None] | None = None,
    policy: BusyPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Return ``run()``, trying it again while it fails because the database is busy.

    ``on_retry(n)`` is told before the n-th retry (1, 2, …). The last busy
    error is raised as it is; any other error at once. ``policy`` defaults
    to :data:`POLICY`, ``sleep`` to :func:`time.sleep`.
    """
    policy = policy or POLICY
    sleep = sleep or time.sleep
    for attempt in range(1, policy.attempts + 1):
        try:
            return run()
        except (exceptions.DatabaseLockedError, sqlite3.OperationalError) as err:
            if attempt >= policy.attempts or not is_busy(err):
                raise
            if on_retry is not None:
                on_retry(attempt)
            sleep(policy.wait_before(attempt + 1))
    raise AssertionError("unreachable")


def retry_message(attempt: int) -> str:
    """What the start-up page and the terminal say before retry ``attempt``."""
    return f"The database is busy; trying again ({attempt})…"
