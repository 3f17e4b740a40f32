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

The standard library and ``packaging`` only: the stable launcher imports this
before Django exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from maintenance.files import fsync_dir, write_json_atomic

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


def _version_key(version: str) -> Version:
    """Order release folders as versions; a folder whose name is not a version sorts first (never chosen)."""
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


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


# --- the stable launcher itself ---------------------------------------------------
# A release may carry a new stable launcher (``aurswift-launcher`` in its bundle). The launcher that
# the shortcut starts (``<install>/aurswift-launcher``) takes it over at the next start, crash-safely:
#
#   1. stage   a running launcher whose current version is confirmed (not on trial) and newer than the
#              one its own launcher came from copies that version's launcher to ``<name>.new.partial``,
#              then renames it to ``<name>.new``;
#   2. check   at the next start, ``<name>.new --launcher-self-check`` must answer before anything is
#              replaced (a launcher that cannot start is thrown away and never staged again);
#   3. keep    the running launcher is hard-linked (or copied) to ``<name>.old``;
#   4. switch  ``os.replace(<name>.new, <name>)``: one atomic rename; the new launcher is started;
#   5. finish  a launcher that started as ``<name>`` with an ``<name>.old`` beside it and nothing staged
#              deletes ``<name>.old``: it has started successfully.
#
# A kill after any step leaves ``<name>`` a launcher that starts (the old one until step 4, then the
# checked new one), and the next start carries on from where it stopped.
LAUNCHER_NAME = "aurswift-launcher.exe" if os.name == "nt" else "aurswift-launcher"
LAUNCHER_CHECK_ARG = "--launcher-self-check"
LAUNCHER_OK = "AurSwift stable launcher: ok"
LAUNCHER_STATE = "launcher.json"  # in <data>/app/: the version the installed launcher came from, rejected ones
SWAP_KILL_ENV = "AURSWIFT_TEST_LAUNCHER_SWAP_KILL"  # tests: SIGKILL the launcher right after the named step


def _kill_point(step: str) -> None:
    """Tests stop the launcher dead after a step of the swap (``AURSWIFT_TEST_LAUNCHER_SWAP_KILL=<step>``)."""
    if os.environ.get(SWAP_KILL_ENV) == step:
        import signal

        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def launcher_state(data_dir: Path) -> dict:
    """``{"versions": {<install folder>: <the version its launcher came from>}, "rejected": [sha256, …]}``.

    By install folder: a version's own folder started directly has a launcher too, and must not
    speak for the one the shop's shortcut starts.
    """
    state = _read(app_dir(data_dir) / LAUNCHER_STATE)
    return {"versions": {}, "rejected": [], **(state if isinstance(state, dict) else {})}


def launcher_version(data_dir: Path, home: Path) -> str | None:
    """The version the launcher in ``home`` came from, when a swap or a check recorded it."""
    return launcher_state(data_dir)["versions"].get(str(home.resolve()))


def _write_launcher_state(data_dir: Path, home: Path | None = None, version: str | None = None, **changes) -> None:
    state = {**launcher_state(data_dir), **changes}
    if home is not None:
        state["versions"] = {**state["versions"], str(home.resolve()): version}
    write_json_atomic(app_dir(data_dir) / LAUNCHER_STATE, state)


def _durable_copy(source: Path, dest: Path) -> None:
    with source.open("rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(dest, 0o755)  # noqa: S103 - an executable, like the one it replaces


def stage_launcher(data_dir: Path, home: Path, version: str, launched_from: str | None) -> bool:
    """Stage ``version``'s launcher as ``home/<name>.new`` when it differs from ``home/<name>``; return whether.

    Only a version newer than the one the installed launcher came from (``launched_from`` when no
    swap was recorded yet: the bundled version) hands its launcher over, so a fall back to an older
    version never downgrades the launcher. Never raises for a folder it cannot write (a read-only
    install keeps its launcher).
    """
    current, candidate = home / LAUNCHER_NAME, version_root(data_dir, version) / LAUNCHER_NAME
    new = home / f"{LAUNCHER_NAME}.new"
    state = launcher_state(data_dir)
    recorded = launcher_version(data_dir, home)
    base = recorded or launched_from
    try:
        if not candidate.is_file() or not current.is_file():
            return False
        if base and base != "bundled" and _version_key(version) <= _version_key(base):
            return False
        want = _sha256(candidate)
        if want == _sha256(current):
            if recorded != version:
                _write_launcher_state(data_dir, home, version)  # already this version's launcher
            return False
        if want in state["rejected"] or (new.is_file() and _sha256(new) == want):
            return False
        partial = home / f"{LAUNCHER_NAME}.new.partial"
        _durable_copy(candidate, partial)
        _kill_point("staging")
        os.replace(partial, new)
        fsync_dir(home)
        write_json_atomic(new.with_name(new.name + ".json"), {"version": version, "sha256": want})
        _kill_point("staged")
        return True
    except OSError:
        return False


def swap_staged_launcher(data_dir: Path, home: Path, starts: Callable[[Path], bool]) -> str:
    """Replace ``home/<name>`` by a staged ``<name>.new`` (steps 2 to 4 above); return what happened.

    ``starts(path)`` runs a launcher's self-check and returns whether it answered. Returns
    ``"none"`` (nothing staged), ``"rejected"`` (the staged launcher did not start: removed, never
    staged again) or ``"swapped"`` (``home/<name>`` is the new launcher; start it).
    """
    current, new, old = home / LAUNCHER_NAME, home / f"{LAUNCHER_NAME}.new", home / f"{LAUNCHER_NAME}.old"
    record = new.with_name(new.name + ".json")
    if not new.is_file():
        return "none"
    staged = _read(record)
    sha = _sha256(new)
    if not starts(new):
        _write_launcher_state(data_dir, rejected=[*launcher_state(data_dir)["rejected"], sha])
        _discard_files(new, record)
        return "rejected"
    _kill_point("checked")
    keep = home / f"{LAUNCHER_NAME}.old.partial"
    # Before the switch the running launcher is still in place: an .old left by an interrupted try is
    # redundant (and, being a hard link to it, would make the rename below a no-op).
    _discard_files(keep, old)
    try:
        os.link(current, keep)
    except OSError:
        shutil.copy2(current, keep)
    os.replace(keep, old)
    fsync_dir(home)
    _kill_point("kept")
    if os.name == "nt":  # a running .exe cannot be replaced, only renamed: the redirector falls back to .old
        os.replace(current, home / f"{LAUNCHER_NAME}.running")
    os.replace(new, current)
    fsync_dir(home)
    _kill_point("replaced")
    _write_launcher_state(data_dir, home, staged.get("version") if staged.get("sha256") == sha else None)
    _discard_files(record)
    return "swapped"


def finish_launcher_swap(data_dir: Path, home: Path) -> bool:
    """Called by a launcher that started as ``home/<name>``: drop the old launcher kept by a swap.

    Also completes a swap killed right after its switch: the staged launcher's record names the
    version it came from.
    """
    current, old, new = home / LAUNCHER_NAME, home / f"{LAUNCHER_NAME}.old", home / f"{LAUNCHER_NAME}.new"
    if new.exists():
        return False
    record = new.with_name(new.name + ".json")
    staged = _read(record)
    with contextlib.suppress(OSError):
        if staged.get("sha256") and staged["sha256"] == _sha256(current):
            _write_launcher_state(data_dir, home, staged.get("version"))
    _discard_files(record)
    if not old.exists():
        return False
    _discard_files(old, home / f"{LAUNCHER_NAME}.running")
    return True


def _discard_files(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            path.unlink()
