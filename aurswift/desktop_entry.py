"""A desktop menu entry for AurSwift on Linux (the freedesktop.org Desktop Entry format), added on request.

``aurswift --add-menu-entry`` writes ``$XDG_DATA_HOME/applications/aurswift.desktop``
(``~/.local/share`` by default) pointing at the program the shop starts: the
first install's ``aurswift`` executable, or ``launcher.py`` on this Python in a
source checkout. Standard library only: it runs before Django is set up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

FILE_NAME = "aurswift.desktop"
ICON = Path("static") / "desktop" / "aurswift.svg"


def _quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry specification asks (reserved characters inside quotes)."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return '"' + escaped.replace("%", "%%") + '"'


def program() -> list[str]:
    """The command that starts AurSwift as the shop does."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    return [str(Path(sys.executable).resolve()), str(Path(__file__).resolve().parent.parent / "launcher.py")]


def entry_text(command: list[str], icon: Path) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.5\n"
        "Name=AurSwift\n"
        "GenericName=Point of sale\n"
        "Comment=The till and the back-office\n"
        f"Exec={' '.join(_quote(arg) for arg in command)}\n"
        f"Icon={icon}\n"
        "Terminal=false\n"
        "Categories=Office;Finance;\n"
        "StartupNotify=true\n"
    )


def add_menu_entry(app_root: Path) -> Path:
    """Write the menu entry (atomically: a menu never reads half a file) and return its path."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = data_home / "applications"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / FILE_NAME
    tmp = target.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(entry_text(program(), app_root / ICON), encoding="utf-8")
    os.chmod(tmp, 0o744)  # some desktops only trust launchers marked executable (by their owner)
    os.replace(tmp, target)
    return target
