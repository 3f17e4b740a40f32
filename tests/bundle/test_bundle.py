"""The frozen bundle runs on its own: management commands, the headless till, the window, the archive.

Every run goes through ``env -i`` with only ``AURSWIFT_DATA_DIR`` (and, for
the window, the display): no virtualenv, no PATH, no system Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT
from tests.helpers.bundle import build_module, open_till, run_bundle, start_bundle_headless

pytestmark = [pytest.mark.slow, pytest.mark.bundle]
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "bundle-window.png"


def _pyz_modules(executable: Path) -> set[str]:
    """Return the module names inside the executable's embedded PYZ archive."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(executable))
    names = [name for name in archive.toc if name.endswith(".pyz")]
    modules: set[str] = set()
    for name in names:
        modules |= set(archive.open_embedded_archive(name).toc)
    return modules


def test_layout_keeps_the_app_as_separate_files_and_leaves_unused_qt_out(bundle):
    internal = bundle.folder / "_internal"
    app = internal / "app"
    assert bundle.executable.name == "aurswift" and os.access(bundle.executable, os.X_OK)
    # The app's own files: source, byte for byte as in the repository (migrations, templatetags, commands).
    for name in [
        "launcher.py",
        "pos/migrations/0001_initial.py",
        "maintenance/management/commands/upgrade_db.py",
        "templates/pos/signin.html",
        "static/pos/till.css",
    ]:
        assert (app / name).read_bytes() == (REPO_ROOT / name).read_bytes(), name
    assert list((app / "pos" / "templatetags").glob("*.py")), "templatetags are missing"
    # Django as source (its migrations are fingerprinted from source); other libraries as separate .pyc files.
    assert (internal / "django/contrib/auth/migrations/0001_initial.py").is_file()
    assert (internal / "django/db/models/base.py").is_file()
    for name in ["tuf/ngclient/updater.pyc", "waitress/server.pyc", "whitenoise/middleware.pyc", "environ/environ.pyc"]:
        assert (internal / name).is_file(), name
    # Nothing of the app or the libraries is inside the executable: a code change never touches it. Every
    # installed distribution's modules are collected as files (found from importlib.metadata, not listed).
    embedded = _pyz_modules(bundle.executable)
    packages = set(build_module.collection_modes()) | {"pos", "maintenance", "aurswift", "launcher", "django", "tuf"}
    own = {m for m in embedded if m.split(".")[0] in packages}
    assert not own, sorted(own)[:20]
    assert (bundle.folder / "aurswift-launcher").is_file(), "the stable launcher rides in the bundle"
    # Unused Qt modules and the GTK theme plugin (and GTK itself) are left out.
    qt = internal / "PyQt6"
    for module in ["QtMultimedia", "QtQuick3D", "QtBluetooth", "QtSql", "QtDesigner", "QtPdfWidgets"]:
        assert not list(qt.glob(f"{module}.*")), module
    for module in ["QtCore", "QtGui", "QtWidgets", "QtWebEngineCore", "QtWebEngineWidgets", "QtWebChannel"]:
        assert list(qt.glob(f"{module}.*")), module
    assert not list(bundle.folder.rglob("libqgtk3.so")) and not list(bundle.folder.rglob("libgtk-3.so*"))
    assert (qt / "Qt6/libexec/QtWebEngineProcess").is_file()


def test_manage_check_db_on_a_fresh_data_dir(bundle, tmp_path):
    proc = run_bundle(bundle.executable, "manage", "check_db", data_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Classification: new" in proc.stdout
    assert "Healthy: yes" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_manage_upgrade_db_json_creates_the_database(bundle, tmp_path):
    proc = run_bundle(bundle.executable, "manage", "upgrade_db", "--json", data_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = proc.stdout.strip().splitlines()  # exactly one JSON object
    outcome = json.loads(line)
    assert outcome["exit_code"] == 0 and outcome["outcome"] == "upgraded"
    assert outcome["to_version"] == build_module.source_version()
    assert "pos.0001_initial" in outcome["applied"]
    assert (tmp_path / "pos_system.db").is_file()

    again = run_bundle(bundle.executable, "manage", "check_db", data_dir=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Fingerprints: all applied migrations match" in again.stdout
    # The fingerprints the bundle recorded are the ones the source checkout computes: a shop can move
    # between a source install and a bundle (and across the bundled Django) without a mismatch.
    source = subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), "check_db"],
        env={**os.environ, "AURSWIFT_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "aurswift.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert source.returncode == 0, source.stdout + source.stderr
    assert "Fingerprints: all applied migrations match" in source.stdout


def test_manage_check_update_refuses_cleanly_without_a_server(bundle, tmp_path):
    proc = run_bundle(bundle.executable, "manage", "check_update", data_dir=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() and "Traceback" not in proc.stderr


def test_headless_serves_the_till_sign_in_page(bundle, tmp_path):
    app = start_bundle_headless(bundle.executable, tmp_path)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/launch/[\w-]+/", app.url), app.url
        where, page = open_till(app)
        assert where == app.base + "/signin/"
        assert "Sign in · AurSwift" in page and ">Sign in</button>" in page
    finally:
        app.stop()


def test_first_install_archive_extracts_anywhere_and_runs(bundle, tmp_path):
    assert re.fullmatch(r"aurswift-\d+\.\d+\.\d+-linux-x86_64\.tar\.gz", bundle.archive.name), bundle.archive.name
    folder = tmp_path / "Some Shop" / "AurSwift"
    folder.mkdir(parents=True)
    with tarfile.open(bundle.archive) as tar:
        tar.extractall(folder, filter="tar")
    assert (folder / "aurswift").is_file() and os.access(folder / "aurswift", os.X_OK)
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.run(
        ["/usr/bin/env", "-i", f"AURSWIFT_DATA_DIR={data}", "./aurswift", "manage", "check_db"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Classification: new" in proc.stdout
    # on request, a desktop menu entry that starts this very program
    menus = tmp_path / "xdg data"
    proc = subprocess.run(
        ["/usr/bin/env", "-i", f"XDG_DATA_HOME={menus}", "./aurswift", "--add-menu-entry"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    entry = menus / "applications" / "aurswift.desktop"
    assert proc.returncode == 0 and proc.stdout.strip() == f"Added AurSwift to the desktop menu: {entry}", proc
    lines = dict(line.split("=", 1) for line in entry.read_text().splitlines()[1:])
    assert lines["Exec"] == f'"{folder / "aurswift"}"' and Path(lines["Icon"]).is_file()


@pytest.mark.window
def test_the_window_opens_from_the_bundle(bundle, tmp_path):
    if not shutil.which("xvfb-run") or not shutil.which("import"):
        pytest.skip("xvfb-run and imagemagick's import are needed (scripts/setup.sh installs them)")
    data = tmp_path / "data"
    data.mkdir()
    first = start_bundle_headless(bundle.executable, data)  # the first run happens here: the window opens on the till
    try:
        open_till(first)
    finally:
        first.stop()
    shot = tmp_path / "bundle-window.png"
    proc = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            str(Path(__file__).with_name("window_driver.py")),
            str(bundle.executable),
            str(data),
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    assert proc.returncode == 0
    assert "Page loaded: http://127.0.0.1:" in proc.stdout
    colours = subprocess.run(["identify", "-format", "%k", str(shot)], capture_output=True, text=True, check=True)
    assert int(colours.stdout.strip()) > 50, "the screenshot looks blank"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOT)
