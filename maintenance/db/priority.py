"""Work that runs beside the till yields the CPU to it: a manual backup and the background check run at low priority.

A backup of a 1 GB database keeps both cores of a small till PC busy for
seconds (the copy, its hash, the ``quick_check`` of the snapshot); at equal
priority the cashier's requests then queue behind it. On Linux the nice
value is a property of each thread and threads inherit it from the thread
that starts them, so the work runs in a fresh thread whose nice value is
raised first: everything it starts (the hasher, the checker) is low priority
too, and the thread that asked (a waitress thread, the admin's job, the
command's main thread) keeps its own. Nothing is slower on an idle machine.
Elsewhere this is a no-op: the work simply runs in the new thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from maintenance.db import interrupts

#: A nice value well below the till's 0 (CFS gives it about a tenth of a core against one busy till thread).
BACKGROUND_NICE = 10

T = TypeVar("T")
P = ParamSpec("P")


def lower_this_thread(nice: int = BACKGROUND_NICE) -> None:
    """Raise the calling thread's nice value to ``nice`` (never lower it: that needs privileges)."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)


def lowered(work: Callable[P, T]) -> Callable[P, T]:
    """``work`` that first lowers the thread it runs in: for a task that must leave a core to the longest one.

    The guarded upgrade waits for ``quick_check`` of the old database, the
    longest of its parallel parts; the foreign-key check and the backup's copy
    beside it run lowered, so on two cores the check keeps one of its own.
    """

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        lower_this_thread()
        return work(*args, **kwargs)

    return run


def thread_nice() -> int:
    """The calling thread's nice value (0 where threads have none of their own)."""
    if not sys.platform.startswith("linux"):
        return 0
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def in_background(work: Callable[[], T], *, name: str = "background", cancel: Callable[[], None] | None = None) -> T:
    """Run ``work`` in a new low-priority thread, wait for it and return its result (or raise its exception).

    The thread is a daemon exactly when the caller is: quitting the app does
    not wait for a backup its admin job started, and a command waits for its
    own. If the waiting thread is interrupted (Ctrl-C in a command),
    ``cancel`` is called so the work stops at its next step; once the work
    has ended, the interruption is raised, unless the work had completed
    anyway, whose result is then returned.
    """
    outcome: dict[str, Any] = {}
    ended = threading.Event()  # not Thread.join(): an interrupted join can mark a running thread as stopped

    def run() -> None:
        lower_this_thread()
        try:
            outcome["result"] = work()
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = err
        finally:
            ended.set()

    worker = threading.Thread(target=run, name=name, daemon=threading.current_thread().daemon)
    try:
        with interrupts.deferred():  # a Ctrl-C while it starts is raised here, once it runs: it is then cancelled
            worker.start()
        ended.wait()
    except BaseException:
        if cancel is not None:
            cancel()
        while not ended.is_set():  # a second Ctrl-C does not leave the work running unwatched
            with contextlib.suppress(KeyboardInterrupt):
                ended.wait()
        if "result" not in outcome:
            raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
