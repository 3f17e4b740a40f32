"""The small stable launcher: start the current AurSwift version, install staged updates, fall back.

This file rarely changes with updates (when it does, the frozen launcher
takes the new one over at the next start, see below). It installs a staged release (one
``os.replace``) on "Restart & Update", when the app quits, or at the next
start, starts it on trial, and if the new version cannot upgrade
the database (it exits with code 75) or crashes before it is ready, switches
back to the previous version and starts that instead. A version that shows
"Database Migration Failed" offers "Keep using version X.Y.Z": it exits with
code 77 and this launcher goes back the same way, trial or not. The
database is never touched here: the versions' own guarded upgrade restores
it on failure.

Each version started learns the version it would go back to from
``AURSWIFT_PREVIOUS_VERSION`` ("bundled" resolved to its number), and that a
stable launcher started it from ``AURSWIFT_STABLE_LAUNCHER`` (a bundle started
without it hands itself over to the launcher beside it: ``launcher.py``).

``manage <command> [args]`` runs the current version's management command
(no install, no trial): ``<install>/aurswift manage check_update`` asks the
version the shop is on.

Frozen (packaging/stable.spec), it also takes over a newer stable launcher
that the current version carries, at the next start and crash-safely
(``maintenance.updates.install``: stage, check, keep the old one, one atomic
rename; a kill at any point leaves a launcher that starts).

Usage: python aurswift_stable.py [--headless] | manage <command> [args]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FROZEN = bool(getattr(sys, "frozen", False))  # packaging/stable.spec: this launcher is its own executable
# Frozen, it sits beside the bundle it came with (the "bundled" version); else beside launcher.py.
HERE = Path(sys.executable).resolve().parent if FROZEN else Path(__file__).resolve().parent
if not FROZEN:
    sys.path.insert(0, str(HERE))
APP_EXECUTABLE = "aurswift.exe" if os.name == "nt" else "aurswift"

from aurswift.paths import data_dir  # noqa: E402  (stdlib and platformdirs only: one data-dir rule)
from maintenance.updates import install  # noqa: E402  (the standard library and packaging only)

STABLE_ENV = "AURSWIFT_STABLE_LAUNCHER"  # tells a started bundle it runs under this launcher (launcher.py)


def launcher_for(data: Path, version: str | None) -> Path:
    return (install.version_root(data, version) if version else HERE) / "launcher.py"


def command_for(data: Path, version: str | None, args: list[str]) -> list[str]:
    """How to start a version: its frozen bundle's own executable, else launcher.py on this Python."""
    root = install.version_root(data, version) if version else HERE
    if (root / APP_EXECUTABLE).is_file():
        return [str(root / APP_EXECUTABLE), *args]
    return [sys.executable, str(root / "launcher.py"), *args]


def bundled_version() -> str:
    """Return the version of the app bundled with this launcher (read, not imported: no Django here)."""
    import re

    for base in (HERE, HERE / "_internal" / "app"):  # a source tree, or a bundle's own files
        try:
            text = (base / "aurswift" / "__init__.py").read_text(encoding="utf-8")
            break
        except OSError:
            continue
    else:
        return "bundled"
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.M)
    return match.group(1) if match else "bundled"


def version_env(data: Path) -> dict[str, str]:
    return dict(os.environ, AURSWIFT_DATA_DIR=str(data), **{STABLE_ENV: str(Path(sys.executable).resolve())})


def manage(data: Path, args: list[str]) -> int:
    """``manage <command> [args]``: the current version's management command, nothing installed."""
    version = install.current(data)["current"]
    return subprocess.call(command_for(data, version, args), env=version_env(data))


def self_check_ok(candidate: Path) -> bool:
    """Whether a staged launcher starts: it must answer ``--launcher-self-check`` (nothing else runs)."""
    env = {k: v for k, v in os.environ.items() if k != install.SWAP_KILL_ENV}
    try:
        proc = subprocess.run(
            [str(candidate), install.LAUNCHER_CHECK_ARG], env=env, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and install.LAUNCHER_OK in proc.stdout


def take_over_new_launcher(data: Path, args: list[str]) -> None:
    """Frozen: swap in a staged newer launcher and start it instead (does not return then)."""
    me = HERE / install.LAUNCHER_NAME
    if not FROZEN or Path(sys.executable).resolve() != me.resolve():
        return
    try:
        outcome = install.swap_staged_launcher(data, HERE, self_check_ok)
    except OSError as err:  # a read-only install folder: keep this launcher
        print(f"AurSwift stable launcher: could not take over the new launcher ({err})", flush=True)
        return
    if outcome == "rejected":
        print("AurSwift stable launcher: the new launcher did not start; keeping this one", flush=True)
    elif outcome == "swapped":
        print("AurSwift stable launcher: swapped in the new launcher", flush=True)
        if os.name == "nt":
            sys.exit(subprocess.call([str(me), *args]))
        os.execv(str(me), [str(me), *args])  # noqa: S606 - this launcher's own file, swapped in
    elif install.finish_launcher_swap(data, HERE):
        print("AurSwift stable launcher: the new launcher started; the old one is removed", flush=True)


def stage_new_launcher(data: Path, version: str | None) -> None:
    """Frozen: when the confirmed current version carries a newer launcher, stage it for the next start."""
    if FROZEN and version and install.stage_launcher(data, HERE, version, bundled_version()):
        print(f"AurSwift stable launcher: {version}'s launcher is staged; it takes over at the next start", flush=True)


def run(data: Path, args: list[str]) -> int:
    """Start the current version; handle restart-to-update and trial failures."""
    if args[:1] == [install.LAUNCHER_CHECK_ARG]:
        print(install.LAUNCHER_OK, flush=True)
        return 0
    take_over_new_launcher(data, args)
    if args[:1] == ["manage"]:
        return manage(data, args)
    while True:
        install.install_staged(data)
        state = install.current(data)
        version = state["current"]
        if not state["trial"]:
            stage_new_launcher(data, version)
        env = version_env(data)
        if state["trial"]:
            env["AURSWIFT_TRIAL_VERSION"] = version
        previous = install.previous_of(data)
        if previous:
            env["AURSWIFT_PREVIOUS_VERSION"] = bundled_version() if previous == "bundled" else previous
        else:
            env.pop("AURSWIFT_PREVIOUS_VERSION", None)
        print(f"AurSwift stable launcher: starting {version or 'bundled'} version", flush=True)
        code = subprocess.call(command_for(data, version, args), env=env)
        if code == install.RESTART_TO_UPDATE_EXIT:
            continue
        state = install.current(data)
        if code == install.KEEP_PREVIOUS_EXIT and install.previous_of(data):
            reason = "the new version could not upgrade the database; the shop chose to keep using the previous one"
            back = install.fall_back(data, reason)
            print(f"AurSwift stable launcher: {version} failed ({reason}); back to {back}", flush=True)
            continue
        if state["trial"] and code != 0:
            reason = (
                "the new version could not upgrade the database"
                if code == install.TRIAL_FAILED_EXIT
                else (f"the new version stopped before it was ready (exit code {code})")
            )
            back = install.fall_back(data, reason)
            print(f"AurSwift stable launcher: {version} failed ({reason}); back to {back}", flush=True)
            continue
        if code == 0 and install.staged_version(data):
            # "Later" on Restart to update, then a normal quit: install now; it starts on trial next time.
            print(f"AurSwift stable launcher: installed {install.install_staged(data)} on quit", flush=True)
        elif not state["trial"]:  # the version it ran is confirmed now: its launcher may take over next time
            stage_new_launcher(data, state["current"])
        return code


if __name__ == "__main__":
    sys.exit(run(data_dir(), sys.argv[1:]))
