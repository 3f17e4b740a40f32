"""Progress reports from the guarded upgrade, for a terminal and a page alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Progress:
    """One step of the guarded upgrade, in words a shop owner understands."""

    step: str  # classify | integrity | disk | backup | migrate | verify | restore | done
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
