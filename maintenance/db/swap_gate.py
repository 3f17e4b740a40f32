"""The gate between requests and a restore that swaps the database file.

Every request passes the gate *shared*; a restore takes it *exclusively*. The
restore waits for the requests in flight to finish and holds new ones at the
door until the restored (and upgraded) database is in place. Without it, a
sale paid on the till while a manager restores could be committed into the
old file after its restore point was taken — and be in neither file.

The restore itself runs inside a request (the admin page), so the thread that
asks for exclusive access may already hold the gate shared.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

from maintenance import exceptions

WAIT_FOR_REQUESTS_S = 30.0


class SwapGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared: Counter[int] = Counter()
        self._owner: int | None = None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Use the database; waits while another thread is swapping it."""
        me = threading.get_ident()
        with self._cond:
            while self._owner not in (None, me):
                self._cond.wait()
            self._shared[me] += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared[me] -= 1
                if not self._shared[me]:
                    del self._shared[me]
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self, timeout: float = WAIT_FOR_REQUESTS_S) -> Iterator[None]:
        """Swap the database: no other thread is inside the gate until this block ends."""
        me = threading.get_ident()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._owner not in (None, me):
                if not self._cond.wait(max(deadline - time.monotonic(), 0)):
                    raise _busy()
            self._owner = me  # from here, new requests wait at the door
            while any(thread != me for thread in self._shared):
                if not self._cond.wait(max(deadline - time.monotonic(), 0)):
                    self._owner = None
                    self._cond.notify_all()
                    raise _busy()
        try:
            yield
        finally:
            with self._cond:
                self._owner = None
                self._cond.notify_all()

    def requests_in_flight(self) -> int:
        with self._cond:
            return sum(self._shared.values())


def _busy() -> exceptions.DatabaseLockedError:
    return exceptions.DatabaseLockedError(
        "The till is still busy with a request, so the database was not replaced. Try again in a moment."
    )


gate = SwapGate()
