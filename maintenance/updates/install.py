"""The install model: versions side by side, one pointer file, atomic switches, fall back.

``<data>/app/versions/<X.Y.Z>/`` holds each installed release;
``<data>/app/current.json`` names the one to start and the previous one.
A newly installed version runs on trial until it reports ready (its guarded
database upgrade succeeded); if it cannot, the stable launcher switches back
and records why in ``<data>/app/fallback.json`` (shown in the admin).

Stdlib only (and sqlite_tools, also stdlib only): the stable launcher imports
this before Django exists.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

from maintenance.db.sqlite_tools import write_json_atomic

TRIAL_FAILED_EXIT = 75  # the new version could not upgrade the database (or refused)
RESTART_TO_UPDATE_EXIT = 76  # "Restart & Update": install the staged release and start it


def app_dir(data_dir: Path) -> Path:
    return data_dir / "app"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def current(data_dir: Path) -> dict:
    """Return ``{"current": version|None, "previous": version|None, "trial": bool}``."""
    return {"current": None, "previous": None, "trial": False, **_read(app_dir(data_dir) / "current.json")}


def version_root(data_dir: Path, version: str) -> Path:
    """Return the folder holding launcher.py for an installed version."""
    base = app_dir(data_dir) / "versions" / version
    inner = base / f"aurswift-{version}"
    return inner if inner.exists() else base


def staged_version(data_dir: Path) -> str | None:
    staged = data_dir / "updates" / "staged"
    if not staged.exists():
        return None
    versions = [p.name for p in staged.iterdir() if (p / "staged.json").exists() and not p.name.startswith(".")]
    return max(versions, key=_version_key) if versions else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def install_staged(data_dir: Path) -> str | None:
    """Move a staged release into versions/ and make it current, on trial; return its version."""
    version = staged_version(data_dir)
    if version is None:
        return None
    target = app_dir(data_dir) / "versions" / version
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.replace(data_dir / "updates" / "staged" / version, target)
    state = current(data_dir)
    write_json_atomic(
        app_dir(data_dir) / "current.json",
        {
            "current": version,
            "previous": state["current"] or "bundled",
            "trial": True,
            "installed_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        },
    )
    return version


def mark_ready(data_dir: Path, version: str) -> None:
    """Called by a version once its start-up finished: it is no longer on trial."""
    state = current(data_dir)
    if state["current"] == version and state["trial"]:
        write_json_atomic(app_dir(data_dir) / "current.json", {**state, "trial": False})


def fall_back(data_dir: Path, reason: str) -> str | None:
    """Switch back to the previous version and record why; return the version now current."""
    state = current(data_dir)
    previous = state.get("previous")
    failed = state.get("current")
    write_json_atomic(
        app_dir(data_dir) / "current.json",
        {"current": None if previous in (None, "bundled") else previous, "previous": None, "trial": False},
    )
    write_json_atomic(
        app_dir(data_dir) / "fallback.json",
        {
            "failed_version": failed,
            "back_to": previous,
            "reason": reason,
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        },
    )
    return previous


def last_fallback(data_dir: Path) -> dict | None:
    return _read(app_dir(data_dir) / "fallback.json") or None
