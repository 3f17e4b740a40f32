"""The frozen bundle's entry point: find the app's own files, then run launcher.main().

PyInstaller embeds this script in the ``aurswift`` executable, so it is kept
tiny and stable: everything that changes from release to release (launcher.py,
the apps, templates, static files, migrations) stays a separate file in
``<resources>/app/`` (``<resources>`` is ``sys._MEIPASS``, the ``_internal/``
folder beside the executable), and a code-only update replaces only those
files, never the executable.

``aurswift [--headless]`` starts the app; ``aurswift manage <command> [args]``
runs a management command (docs/design.md section 7).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _prepare() -> None:
    resources = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent))
    sys.path.insert(0, str(resources / "app"))
    # The app's modules ship as .py source (migration fingerprints read it): cache their bytecode per
    # user, outside the bundle (which may be read-only), so only the first start compiles them.
    cache = _pycache_dir()
    if cache is not None:
        sys.pycache_prefix = str(cache)
        sys.dont_write_bytecode = False


def _pycache_dir() -> Path | None:
    if os.environ.get("AURSWIFT_PYCACHE") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    if not base and os.environ.get("HOME"):
        base = str(Path(os.environ["HOME"]) / ("Library/Caches" if sys.platform == "darwin" else ".cache"))
    if not base:  # no home (env -i): the data directory, if one is given
        data = os.environ.get("AURSWIFT_DATA_DIR")
        return Path(data) / "cache" / "pycache" if data else None
    return Path(base) / "aurswift" / "pycache"


if __name__ == "__main__":
    _prepare()
    import launcher

    sys.exit(launcher.main())
