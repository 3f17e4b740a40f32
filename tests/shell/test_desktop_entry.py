"""``aurswift --add-menu-entry``: a desktop menu entry that starts this AurSwift, written only on request."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from tests.helpers.app import REPO_ROOT


def test_the_menu_entry_starts_this_launcher_and_survives_odd_folder_names(tmp_path, app_env):
    menus = tmp_path / 'data $HOME & 50% "off"'
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "launcher.py"), "--add-menu-entry"],
        env={**app_env, "XDG_DATA_HOME": str(menus)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    entry = menus / "applications" / "aurswift.desktop"
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Added AurSwift to the desktop menu: {entry}"
    text = entry.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Name=AurSwift\n" in text and "Terminal=false\n" in text
    fields = dict(line.split("=", 1) for line in text.splitlines()[1:])
    # the specification's quoting is a subset of the shell's: parsed back, it is the command itself
    assert shlex.split(fields["Exec"]) == [str(Path(sys.executable).resolve()), str(REPO_ROOT / "launcher.py")]
    assert (REPO_ROOT / "static" / "desktop" / "aurswift.svg").samefile(fields["Icon"])
    assert not list(entry.parent.glob(".*.tmp")), "no half-written entry is left"


def test_nothing_is_written_without_the_request(tmp_path, app_env):
    """Starting the app never touches the menus: the entry is added on request only."""
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "launcher.py"), "--help"],
        env={**app_env, "XDG_DATA_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--add-menu-entry" in proc.stdout
    assert not (tmp_path / "applications").exists()
