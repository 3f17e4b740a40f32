"""Quick checks of the packaging helpers and ``launcher.py manage`` (no bundle is built here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.app import REPO_ROOT
from tests.helpers.bundle import build_module


@pytest.mark.parametrize(
    ("system", "machine", "tag"),
    [
        ("linux", "x86_64", "linux-x86_64"),
        ("linux", "aarch64", "linux-aarch64"),
        ("win32", "AMD64", "win-amd64"),
        ("win32", "ARM64", "win-arm64"),
        ("darwin", "arm64", "macos-arm64"),
        ("darwin", "x86_64", "macos-x86_64"),
    ],
)
def test_platform_tag(system, machine, tag):
    assert build_module.platform_tag(system, machine) == tag


def test_app_files_are_the_apps_templates_and_static_without_bytecode():
    files = build_module.app_files(REPO_ROOT)
    assert "launcher.py" in files and "pos/migrations/0001_initial.py" in files
    assert "templates/pos/signin.html" in files and "static/pos/till.css" in files
    assert not [f for f in files if f.endswith(".pyc") or "__pycache__" in f]
    assert not [f for f in files if f.split("/")[0] in {"tests", "packaging", "benchmarks", "docs"}]


def _launcher(app_env, *args):
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "launcher.py"), *args],
        cwd=REPO_ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_launcher_manage_runs_management_commands_with_their_exit_codes(app_env, data_dir):
    proc = _launcher(app_env, "manage", "upgrade_db", "--json")
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.strip().splitlines()
    assert json.loads(line)["exit_code"] == 0
    assert (data_dir / "pos_system.db").is_file()

    proc = _launcher(app_env, "manage", "check_db")
    assert proc.returncode == 0 and "Healthy: yes" in proc.stdout

    proc = _launcher(app_env, "manage", "no_such_command")
    assert proc.returncode == 1 and "Unknown command" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_launcher_help_names_the_manage_subcommand(app_env):
    proc = _launcher(app_env, "--help")
    assert proc.returncode == 0
    assert "--headless" in proc.stdout and "manage <command>" in proc.stdout


def test_collection_modes_name_every_installed_package_and_a_new_one(tmp_path, monkeypatch):
    from tests.helpers.bundle import pure_package

    modes = build_module.collection_modes(py=["django", "pos"])
    assert modes["django"] == "py" and modes["pos"] == "py"
    assert {modes[name] for name in ("waitress", "tuf", "webview", "urllib3", "typing_extensions")} == {"pyc"}
    assert "aurswift_probe" not in modes
    monkeypatch.syspath_prepend(str(pure_package(tmp_path, "aurswift_probe", "1.1")))  # as pip would install it
    assert build_module.collection_modes()["aurswift_probe"] == "pyc"
