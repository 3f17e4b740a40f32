"""Crash-safe groups of file moves (docs/design.md section 4, "Recovery moves").

"Backup & Start Fresh", "Try Repair" and restores move several files that
belong together: a database and its ``-wal``, ``-shm`` and ``-journal``. A
kill between two moves must not leave a database without its write-ahead
log. So a group is written down first (an intent file beside the database),
then carried out, then the intent is removed; the next start replays any
intent it finds. Each move is idempotent: it is done when its source is gone
or its destination exists, so replaying a finished move changes nothing.
Destinations are new names, or names an earlier move of the group has
freed, which is what makes "destination exists" mean "done" on a replay.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from maintenance.db import testhooks
from maintenance.db.sqlite_tools import SIDE_SUFFIXES
from maintenance.files import fsync_dir, read_json, write_json_atomic

log = logging.getLogger(__name__)
INTENT = "recovery-intent.json"


@dataclass(frozen=True)
class Move:
    src: Path
    dst: Path


def intent_path(folder: Path) -> Path:
    return folder / INTENT


def _do(move: Move) -> None:
    if move.src.exists() and not move.dst.exists():
        os.replace(move.src, move.dst)


def run(folder: Path, action: str, moves: list[Move]) -> None:
    """Carry out ``moves`` as one crash-safe group inside ``folder``."""
    for index, move in enumerate(moves):
        freed = {earlier.src for earlier in moves[:index]}
        if move.dst.exists() and move.dst not in freed:
            raise FileExistsError(f"{move.dst} already exists; a recovery move never overwrites a file")
    write_json_atomic(intent_path(folder), {"action": action, "moves": [[str(m.src), str(m.dst)] for m in moves]})
    for index, move in enumerate(moves):
        _do(move)
        testhooks.pause_if(f"{action}_move_{index}")
    fsync_dir(folder)
    intent_path(folder).unlink()
    fsync_dir(folder)


def resume(folder: Path) -> str | None:
    """Finish a group of moves a crash interrupted; return its action, or None if there was none."""
    data = read_json(intent_path(folder))
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            intent_path(folder).unlink()  # torn before it was complete: nothing was moved yet
        return None
    for src, dst in data.get("moves", []):
        _do(Move(Path(src), Path(dst)))
    fsync_dir(folder)
    intent_path(folder).unlink()
    fsync_dir(folder)
    log.warning("finished the interrupted %s after a restart", data.get("action"))
    return str(data.get("action"))


def kept_aside_name(db_path: Path, now: datetime | None = None) -> Path:
    """Return a new ``pos_system.db.old.YYYYMMDD-HHMMSS[-N]`` name beside the database."""
    stamp = f"{(now or datetime.now()):%Y%m%d-%H%M%S}"
    candidate, n = db_path.with_name(f"{db_path.name}.old.{stamp}"), 1
    while any(candidate.with_name(candidate.name + s).exists() for s in ("", *SIDE_SUFFIXES)):
        n += 1
        candidate = db_path.with_name(f"{db_path.name}.old.{stamp}-{n}")
    return candidate


def keep_aside_moves(db_path: Path, old: Path) -> list[Move]:
    """Return the moves that keep the database and its side files aside as ``old`` (side files first)."""
    moves = [
        Move(db_path.with_name(db_path.name + suffix), old.with_name(old.name + suffix))
        for suffix in SIDE_SUFFIXES
        if db_path.with_name(db_path.name + suffix).exists()
    ]
    return [*moves, Move(db_path, old)]
