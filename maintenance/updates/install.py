"""The install model: versions side by side, one pointer file, atomic switches, fall back.

``<data>/app/versions/<X.Y.Z>/`` holds each installed release;
``<data>/app/current.json`` names the one to start and the previous one.
A newly installed version runs on trial until it reports ready (its guarded
database upgrade succeeded); if it cannot, the stable launcher switches back
and records why in ``<data>/app/fallback.json`` (shown in the admin).

Every version that failed that way is also remembered in
``<data>/app/failed_versions.json`` (the last ``fallback.json`` is folded in
too, for launchers older than this list), so the update client never offers
it again on this machine; :func:`take_failure_notice` gives the till a
one-time "could not be installed" notice.

Stdlib only (and sqlite_tools, also stdlib only): the stable launcher imports
this before Django exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from maintenance.files import write_json_atomic

TRIAL_FAILED_EXIT = 75  # the new version could not upgrade the database (or refused)
RESTART_TO_UPDATE_EXIT = 76  # "Restart & Update": install the staged release and start it
KEEP_PREVIOUS_EXIT = 77  # "Keep using version X.Y.Z" on a failed upgrade: go back to the previous version


def previous_of(data_dir: Path) -> str | None:
    """Return the version a fall back would start (an installed one, or "bundled"); None when there is none."""
    previous = current(data_dir).get("previous")
    return str(previous) if previous else None


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
    _remember_failures(data_dir)  # the fallback.json about to be replaced is not forgotten
    state = current(data_dir)
    previous = state.get("previous")
    failed = state.get("current")
    write_json_atomic(
        app_dir(data_dir) / "current.json",
        {"current": None if previous in (None, "bundled") else previous, "previous": None, "trial": False},
    )
    record = {
        "failed_version": failed,
        "back_to": previous,
        "reason": reason,
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    write_json_atomic(app_dir(data_dir) / "fallback.json", record)
    _remember_failures(data_dir)
    return previous


def last_fallback(data_dir: Path) -> dict | None:
    return _read(app_dir(data_dir) / "fallback.json") or None


# --- versions that failed on this machine -------------------------------------
FAILED_FILE = "failed_versions.json"
_failures_lock = threading.Lock()  # one till process: its check thread and page requests


def _failed_path(data_dir: Path) -> Path:
    return app_dir(data_dir) / FAILED_FILE


def _write_json_unique_tmp(path: Path, data: dict) -> None:
    """Write JSON through a unique temporary file and one ``os.replace``: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remember_failures(data_dir: Path) -> dict:
    """Return ``failed_versions.json``, first folding in the last fallback if it is not there yet.

    ``{"versions": [{"version", "reason", "back_to", "at", "notice_shown"}], "fallback_seen": "<version>@<at>"}``
    """
    state = _read(_failed_path(data_dir))
    state = state if isinstance(state, dict) else {}
    entries = [e for e in state.get("versions", []) if isinstance(e, dict) and e.get("version")]
    fallback = last_fallback(data_dir) or {}
    failed = fallback.get("failed_version")
    stamp = f"{failed}@{fallback.get('at', '')}"
    if failed and failed != "bundled" and state.get("fallback_seen") != stamp:
        entries = [e for e in entries if e["version"] != failed]  # failed again: a new notice
        entries.append(
            {
                "version": failed,
                "reason": fallback.get("reason", ""),
                "back_to": fallback.get("back_to"),
                "at": fallback.get("at", ""),
                "notice_shown": False,
            }
        )
        state = {"versions": entries, "fallback_seen": stamp}
        _write_json_unique_tmp(_failed_path(data_dir), state)
    return {**state, "versions": entries}


def failed_versions(data_dir: Path) -> list[dict]:
    """Return every version that failed to install on this machine (oldest failure first)."""
    with _failures_lock:
        return _remember_failures(data_dir)["versions"]


def take_failure_notice(data_dir: Path, installed: str) -> str | None:
    """Return "Update X.Y.Z could not be installed; you are on A.B.C." once per failure, then None."""
    with _failures_lock:
        state = _remember_failures(data_dir)
        unseen = [e for e in state["versions"] if not e.get("notice_shown")]
        if not unseen:
            return None
        for entry in unseen:
            entry["notice_shown"] = True
        _write_json_unique_tmp(_failed_path(data_dir), state)
    versions = [e["version"] for e in unseen]
    if len(versions) == 1:
        return f"Update {versions[0]} could not be installed; you are on {installed}."
    listed = ", ".join(versions[:-1]) + f" and {versions[-1]}"
    return f"Updates {listed} could not be installed; you are on {installed}."


def forget_failed_version(data_dir: Path, version: str) -> bool:
    """Offer ``version`` again (e.g. after support fixed what made it fail); return whether it was listed."""
    with _failures_lock:
        state = _remember_failures(data_dir)
        kept = [e for e in state["versions"] if e["version"] != version]
        if len(kept) == len(state["versions"]):
            return False
        _write_json_unique_tmp(_failed_path(data_dir), {**state, "versions": kept})
        return True
