"""Ctrl-C during a step that must end as a whole: the step finishes, and what it did is reported.

A guarded upgrade that has verified its result and is removing its marker,
pruning backups and writing its history, or an accepted migration between
its ledger row and its history line, is done: stopping it there would leave
the records saying something else than the database. Such a short step runs
under :func:`finishing`; a Ctrl-C pressed meanwhile is too late and dropped,
and the command reports what was done, as for a backup already saved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def finishing() -> Iterator[None]:
    """Run the block to its end even if Ctrl-C is pressed meanwhile.

    Only the main thread receives KeyboardInterrupt, and only it may change
    the SIGINT handler; elsewhere (a server thread) this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:  # None: a handler not installed from Python; the default is the nearest we can put back
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a Ctrl-C pressed during the block back until the block has ended, then raise it.

    For a step too short to stop but too important to tear: starting the
    thread a command then waits for (a Ctrl-C inside ``Thread.start()`` would
    leave the thread running unwatched). Main thread only, as for :func:`finishing`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if pressed:
        raise KeyboardInterrupt
