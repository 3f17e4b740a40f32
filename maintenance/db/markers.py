"""The guarded run's marker: which backup undoes the run, who runs it, and what the files looked like.

``upgrade-in-progress.json`` lives beside the database while a guarded run
can leave it half-migrated. A later start restores its backup only when its
owner is gone (see ``upgrade.finish_interrupted_runs``). An explicit choice of
the shop — a restore, Start Fresh — replaces the database on purpose, so it
discards a stale marker first; the half-migrated file is kept in its restore
point or kept-aside copy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from maintenance import exceptions
from maintenance.db import moves, writer_lock
from maintenance.files import read_json

log = logging.getLogger(__name__)
UPGRADE_MARKER = "upgrade-in-progress.json"
RESTORE_MARKER = "restore-in-progress.json"


def marker_path(db_path: Path) -> Path:
    return db_path.parent / UPGRADE_MARKER


def live_owner(marker: dict) -> dict | None:
    """Return the marker's owner when that process still runs (and is not us)."""
    owner = marker.get("owner") or {}
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    return owner if writer_lock.process_alive(pid, owner.get("create_time")) else None


def refuse_if_running(marker: dict) -> None:
    """Raise DatabaseLockedError when the run that wrote ``marker`` is still going."""
    owner = live_owner(marker)
    if owner is not None:
        raise exceptions.DatabaseLockedError(
            f"A database upgrade is running in process {owner['pid']}: wait for it to finish. Nothing was changed.",
            holder_pid=owner["pid"],
            holder_name="a database upgrade",
        )


def discard_stale(db_path: Path) -> None:
    """Drop an interrupted run's marker before the shop replaces the database on purpose."""
    path = marker_path(db_path)
    marker = read_json(path)
    if marker is not None:
        refuse_if_running(marker)
        log.warning("discarding the marker of an interrupted upgrade: the database is being replaced on purpose")
    path.unlink(missing_ok=True)


def work_left_by_a_crash(db_path: Path) -> bool:
    """Return whether a crash left work to finish beside the database: an upgrade, a restore, moves.

    The next guarded run finishes it before anything else; until then the
    database is not the one to judge (an earlier failure on it, for one).
    """
    folder = db_path.parent
    return any((folder / name).exists() for name in (UPGRADE_MARKER, RESTORE_MARKER, moves.INTENT))
