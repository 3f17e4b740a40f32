"""Start-up, end to end: the state the window shows, its pages, its URLs and its gate.

This package is the composition root: it imports the apps (``maintenance``,
``pos``) and wires them together; the apps never import it. What they need
to tell it travels by signals (``maintenance.signals``).

* ``state`` — the :class:`Startup` object: the guarded upgrade in a thread,
  its progress, the recovery actions behind the buttons.
* ``pages`` — what each recovery page says and offers.
* ``views`` / ``urls`` — the start-up screen and the recovery pages.
* ``middleware`` — every request leads to the start-up screen until ready.
"""

from aurswift.startup.state import (
    CLOSED,
    READY,
    RECOVERY,
    STARTING,
    Startup,
    StartupStatus,
    current,
    install,
    is_malformed_database_error,
    report_corruption,
)

__all__ = [
    "CLOSED",
    "READY",
    "RECOVERY",
    "STARTING",
    "Startup",
    "StartupStatus",
    "current",
    "install",
    "is_malformed_database_error",
    "report_corruption",
]
