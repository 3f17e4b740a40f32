"""A configuration AurSwift cannot use is said in one line, with the contract's exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.app import REPO_ROOT

BAD_URLS = ["garbage", "postgres://till:secret@localhost/shop", "mysql://till@localhost/shop"]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(("command", "code"), [("upgrade_db", 2), ("backup_db", 2), ("check_db", 1)])
def test_a_database_url_aurswift_cannot_use_is_refused_in_one_line(app_env, url, command, code):
    proc = _run({**app_env, "DATABASE_URL": url}, "manage.py", command, "--json")
    assert proc.returncode == code, proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == code, "exactly one JSON object on stdout"
    assert "Traceback" not in proc.stderr and "SQLite" in proc.stderr


def test_a_data_folder_whose_name_is_too_long_is_refused_in_one_line(app_env, tmp_path):
    folder = tmp_path / ("shop" * 70)  # 280 characters: more than one name may have here
    proc = _run({**app_env, "AURSWIFT_DATA_DIR": str(folder)}, "manage.py", "upgrade_db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot start with this configuration" in proc.stderr and "File name too long" in proc.stderr


@pytest.mark.parametrize("args", [["launcher.py", "--headless"], ["launcher.py", "manage", "upgrade_db"]])
def test_the_launcher_refuses_an_unusable_configuration_in_one_line(app_env, args):
    proc = _run({**app_env, "DATABASE_URL": "postgres://till@localhost/shop"}, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "DATABASE_URL must name an SQLite file" in proc.stderr


def test_check_db_says_not_healthy_when_the_database_cannot_be_opened(app_env, tmp_path):
    proc = _run({**app_env, "DATABASE_URL": f"sqlite:///{tmp_path}"}, "manage.py", "check_db", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["exit_code"] == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args", [["upgrade_db", "--json", "--bogus"], ["restore_db", "--json"], ["check_update", "--json", "--nope"]]
)
def test_a_usage_error_with_json_still_prints_one_json_object(app_env, args):
    proc = _run(app_env, "manage.py", *args)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    assert json.loads(proc.stdout) == {
        "error": "UsageError",
        "message": json.loads(proc.stdout)["message"],
        "exit_code": 2,
    }


def test_the_traceback_option_does_not_turn_a_refusal_into_a_traceback(app_env, tmp_path):
    proc = _run(app_env, "manage.py", "restore_db", "--traceback", str(tmp_path / "nowhere.db"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot be restored: there is no such file" in proc.stderr


def test_a_backup_of_a_database_that_cannot_be_opened_says_so_not_busy(app_env, tmp_path):
    proc = _run({**app_env, "DATABASE_URL": f"sqlite:///{tmp_path}"}, "manage.py", "backup_db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "could not be opened for a backup" in proc.stderr and "busy" not in proc.stderr


def test_the_settings_option_is_still_honoured(app_env):
    show = "from django.conf import settings; print(settings.SETTINGS_MODULE)"
    proc = _run(app_env, "manage.py", "shell", "-c", show, "--settings=tests.settings")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("tests.settings"), proc.stdout + proc.stderr
