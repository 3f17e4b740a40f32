"""The upgrade history: one JSON line per guarded run, kept outside the database.

It lives in ``logs/upgrade-history.jsonl`` so that restoring a backup (which
replaces the database) never erases the record of why it was restored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from maintenance.config import logs_dir

HISTORY_FILE = "upgrade-history.jsonl"


def history_path(data_dir: Path) -> Path:
    return logs_dir(data_dir) / HISTORY_FILE


def append_run(data_dir: Path, entry: dict[str, object]) -> None:
    """Append one run to the history and flush it to disk."""
    path = history_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_history(data_dir: Path) -> list[dict]:
    """Return every recorded run, newest first (a torn last line is skipped)."""
    path = history_path(data_dir)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return list(reversed(runs))
