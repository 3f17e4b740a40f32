"""Where AurSwift keeps its files: one data directory, resolved in one place.

The layout is docs/design.md section 3. Everything writable lives under the data
directory so that a backup, a restore or an uninstall has one place to look.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "aurswift"
DB_FILENAME = "pos_system.db"
# The folder a frozen bundle (packaging/) keeps the app's own files in, inside its resources folder.
BUNDLE_APP_FOLDER = "app"


def is_frozen() -> bool:
    """Return whether this process is a frozen bundle (PyInstaller) rather than a source checkout."""
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path | None:
    """Return the folder of a frozen bundle's ``aurswift`` executable (None in a source checkout)."""
    return Path(sys.executable).resolve().parent if is_frozen() else None


def _source_root() -> Path:
    """Return the folder holding manage.py's siblings: the apps, templates/, static/, launcher.py.

    In a source checkout that is the checkout. In a frozen bundle the app's own
    files are kept apart from the bundled Python packages, in
    ``<resources>/app/`` (``<resources>`` is ``sys._MEIPASS``: ``_internal/``
    beside the executable), so Django and the other libraries are never taken
    for the project's own apps (migration fingerprints follow only those).
    """
    here = Path(__file__).resolve().parent.parent
    if not is_frozen() or (here / "templates").is_dir():
        return here
    resources = Path(getattr(sys, "_MEIPASS", "") or Path(sys.executable).resolve().parent)
    for candidate in (resources / BUNDLE_APP_FOLDER, resources):
        if (candidate / "templates").is_dir():
            return candidate
    return here


SOURCE_ROOT = _source_root()


def data_dir() -> Path:
    """Return the data directory (``AURSWIFT_DATA_DIR`` or the platform's user data dir)."""
    override = os.environ.get("AURSWIFT_DATA_DIR")
    path = Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))
    return path.expanduser().resolve()


def default_db_path(base: Path | None = None) -> Path:
    """Return the path of the live SQLite database inside ``base`` (the data dir)."""
    return (base or data_dir()) / DB_FILENAME


def backups_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "backups"


def logs_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "logs"


def updates_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "updates"


def ensure_layout(base: Path) -> None:
    """Create the data directory and its sub-folders if they are missing."""
    for path in (base, backups_dir(base), logs_dir(base), updates_dir(base)):
        path.mkdir(parents=True, exist_ok=True)


def writable(path: Path) -> bool:
    """Return whether ``path`` (a file, existing or not) can be opened for appending."""
    try:
        with open(path, "a", encoding="utf-8"):
            return True
    except OSError:
        return False


def ensure_secret_key(base: Path) -> str:
    """Return the secret key stored in ``base/secret_key``, creating it on first run.

    The key is never in the code: each installation gets its own, readable only
    by the user running the shop.
    """
    key_file = base / "secret_key"
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = secrets.token_urlsafe(50)
    tmp = key_file.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key)
        os.replace(tmp, key_file)
    except OSError:
        pass  # a read-only data dir: this process uses its key once; start-up refuses with a clear message
    return key
