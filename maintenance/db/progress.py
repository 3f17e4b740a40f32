"""Progress reports from the guarded upgrade, for a terminal and a page alike."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass


class Step(enum.StrEnum):
    """The steps of a guarded run, in the order the code runs them (the start-up checklist follows it)."""

    CLASSIFY = "classify"
    DISK = "disk"
    INTEGRITY = "integrity"  # starts with the backup's copy, goes on beside the migrations, joined at VERIFY
    BACKUP = "backup"
    MIGRATE = "migrate"
    VERIFY = "verify"
    RESTORE = "restore"
    REPAIR = "repair"
    DONE = "done"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Step.CLASSIFY: "Checking the database",
    Step.DISK: "Checking disk space",
    Step.INTEGRITY: "Checking integrity",
    Step.BACKUP: "Backing up",
    Step.MIGRATE: "Migrating",
    Step.VERIFY: "Verifying",
    Step.RESTORE: "Restoring the backup",
    Step.REPAIR: "Repairing",
    Step.DONE: "Ready",
}

#: What the start-up screen lists and ticks off, in the order ``upgrade.py`` runs it.
CHECKLIST = (Step.CLASSIFY, Step.DISK, Step.INTEGRITY, Step.BACKUP, Step.MIGRATE, Step.VERIFY)


@dataclass(frozen=True)
class Progress:
    """One step of the guarded upgrade, in words a shop owner understands."""

    step: str  # a Step
    message: str
    current: int | None = None  # migration i …
    total: int | None = None  # … of n
    percent: float | None = None  # 0..100 for copies (backup, restore)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]


def emit(callback: ProgressCallback | None, step: str, message: str, **fields: object) -> None:
    """Send a progress report if anyone listens."""
    if callback is not None:
        callback(Progress(step=step, message=message, **fields))  # type: ignore[arg-type]
