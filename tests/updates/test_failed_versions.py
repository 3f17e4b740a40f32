"""A version that failed to install is remembered and not offered again; a newer one is (docs/design.md section 5).

The failure is recorded the way the stable launcher records it (``install_staged``
then ``fall_back``, the calls aurswift_stable.py makes), or as an older
launcher left it (``app/fallback.json`` only). ``check_update`` and
``apply_update`` run as real subprocesses against the ``releases`` repository
served on loopback: its 0.2.0 snapshot, then with 0.2.1 published.
test_install.py does the same after a real fallback by the stable launcher.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from maintenance.updates import install
from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.updates import client_env

REASON = "the new version could not upgrade the database"


def _launcher_fell_back(data_dir: Path, version: str, reason: str = REASON) -> None:
    """What aurswift_stable.py does: install the staged release on trial, then fall back from it."""
    staged = data_dir / "updates" / "staged" / version
    staged.mkdir(parents=True)
    (staged / "staged.json").write_text(json.dumps({"version": version}))
    assert install.install_staged(data_dir) == version
    install.fall_back(data_dir, reason)


def _older_launcher_fell_back(data_dir: Path, version: str, at: str = "2025-01-02T03:04:05+00:00") -> None:
    """A stable launcher from before the failed-versions list: only ``app/fallback.json`` (overwritten each time)."""
    (data_dir / "app").mkdir(exist_ok=True)
    record = {"failed_version": version, "back_to": "bundled", "reason": REASON, "at": at}
    (data_dir / "app" / "fallback.json").write_text(json.dumps(record))


@pytest.mark.parametrize("record", [_launcher_fell_back, _older_launcher_fell_back], ids=["launcher", "older-launcher"])
def test_a_failed_version_is_not_offered_again_but_a_newer_one_is(releases, serve, app_env, data_dir, record):
    record(data_dir, "0.2.0")
    old = serve(releases["v1"])  # the repository while 0.2.0 is its newest release
    env = client_env(app_env, old.url, releases["repo"])
    check = manage("check_update", env=env)
    assert (check.returncode, check.stdout) == (0, "Up to date: 0.1.0\n"), check.stderr
    assert check.stderr.strip() == (
        "Update 0.2.0 could not be installed on this machine earlier; it will not be offered again."
    )
    as_json = manage("check_update", "--json", env=env)
    offer = json.loads(as_json.stdout)  # exactly one JSON object on stdout
    assert offer["update_available"] is False and offer["failed_here"] is True
    assert offer["skipped_versions"] == ["0.2.0"] and offer["installed"] == "0.1.0"
    applied = manage("apply_update", env=env)
    assert (applied.returncode, applied.stdout.strip()) == (0, "Up to date: 0.1.0"), applied.stderr
    assert "could not be installed on this machine earlier" in applied.stderr
    assert not list((data_dir / "updates" / "staged").glob("0.2.*")), "nothing staged"
    remembered = json.loads((data_dir / "app" / "failed_versions.json").read_text())
    assert [e["version"] for e in remembered["versions"]] == ["0.2.0"]
    assert remembered["versions"][0]["reason"] == REASON

    new = serve(releases["repo"])  # 0.2.1 published
    env = client_env(app_env, new.url, releases["repo"])
    check = manage("check_update", env=env)
    assert (check.returncode, check.stdout, check.stderr) == (0, "Update available: 0.2.1\n", "")
    offer = json.loads(manage("check_update", "--json", env=env).stdout)
    assert offer["update_available"] is True and offer["failed_here"] is False
    assert offer["version"] == "0.2.1" and offer["skipped_versions"] == ["0.2.0"]
    applied = manage("apply_update", env=env)
    assert applied.returncode == 0 and applied.stdout.startswith("Staged: 0.2.1"), applied.stderr


def test_every_failure_is_remembered_though_fallback_json_keeps_only_the_last(releases, serve, app_env, data_dir):
    _older_launcher_fell_back(data_dir, "0.2.0", at="2025-01-02T03:04:05+00:00")
    assert [e["version"] for e in install.failed_versions(data_dir)] == ["0.2.0"]  # the app's check folds it in
    _older_launcher_fell_back(data_dir, "0.2.1", at="2025-02-02T03:04:05+00:00")  # overwrites fallback.json
    _launcher_fell_back(data_dir, "0.3.0")
    assert [e["version"] for e in install.failed_versions(data_dir)] == ["0.2.0", "0.2.1", "0.3.0"]
    server = serve(releases["repo"])
    env = client_env(app_env, server.url, releases["repo"])
    offer = json.loads(manage("check_update", "--json", env=env).stdout)
    assert offer["version"] == "0.2.1" and offer["update_available"] is False
    assert offer["skipped_versions"] == ["0.2.0", "0.2.1", "0.3.0"]


def test_the_periodic_check_does_not_prompt_for_a_failed_version(releases, serve, data_dir, settings):
    from maintenance.updates.service import AVAILABLE, IDLE, UpdateState

    settings.DATA_DIR = data_dir
    settings.AURSWIFT_UPDATE_TRUSTED_ROOT = str(releases["repo"] / "metadata" / "1.root.json")
    _launcher_fell_back(data_dir, "0.2.0")
    settings.AURSWIFT_UPDATE_URL = serve(releases["v1"]).url
    update = UpdateState()
    update.check_now()
    assert (update.status, update.error, update.should_prompt()) == (IDLE, "", False)
    assert update.as_dict()["skipped_versions"] == ["0.2.0"]
    settings.AURSWIFT_UPDATE_URL = serve(releases["repo"]).url
    update.check_now()
    assert (update.status, update.offer.version, update.should_prompt()) == (AVAILABLE, "0.2.1", True)


def test_a_forgotten_failure_is_offered_again(releases, serve, app_env, data_dir):
    _launcher_fell_back(data_dir, "0.2.0")
    assert install.forget_failed_version(data_dir, "0.2.0") is True
    assert install.forget_failed_version(data_dir, "0.2.0") is False
    server = serve(releases["v1"])
    check = manage("check_update", env=client_env(app_env, server.url, releases["repo"]))
    assert check.stdout == "Update available: 0.2.0\n", "fallback.json does not bring a forgotten failure back"


def _notice_in_a_new_process(data_dir: Path, app_env: dict[str, str]) -> str:
    code = "import django; django.setup()\nfrom maintenance.updates.service import failure_notice as f\nprint(f())"
    env = {**app_env, "DJANGO_SETTINGS_MODULE": "aurswift.settings", "AURSWIFT_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_failure_notice_is_given_once(data_dir, app_env, settings):
    from maintenance.updates.service import failure_notice

    settings.DATA_DIR = data_dir
    assert failure_notice() is None
    assert not (data_dir / "app" / "failed_versions.json").exists(), "no failure, nothing written"
    _launcher_fell_back(data_dir, "0.2.0")
    assert failure_notice() == "Update 0.2.0 could not be installed; you are on 0.1.0."
    assert failure_notice() is None
    assert _notice_in_a_new_process(data_dir, app_env) == "None", "seen is remembered across restarts"
    _older_launcher_fell_back(data_dir, "0.2.1")
    assert _notice_in_a_new_process(data_dir, app_env) == "Update 0.2.1 could not be installed; you are on 0.1.0."
    assert failure_notice() is None


def test_the_notice_is_given_once_even_to_requests_at_the_same_moment(data_dir):
    _launcher_fell_back(data_dir, "0.2.0")
    _older_launcher_fell_back(data_dir, "0.2.1")
    notices: list[str | None] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        notices.append(install.take_failure_notice(data_dir, "0.1.0"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [n for n in notices if n] == ["Updates 0.2.0 and 0.2.1 could not be installed; you are on 0.1.0."]
    assert not list((data_dir / "app").glob("*.tmp")), "no temporary file left behind"


def test_the_till_tells_the_cashier_once(db, data_dir, settings):
    """The notice reaches the person at the till on the next page, and only once."""
    from django.test import Client

    from pos.models import StaffProfile
    from pos.services import demo

    settings.DATA_DIR = data_dir
    credentials = demo.create_demo_data()
    _launcher_fell_back(data_dir, "0.2.0")
    till = Client()
    profile = StaffProfile.objects.get(user__username="cashier")
    assert till.post("/signin/", {"staff": profile.pk, "pin": credentials.cashier_pin}).status_code == 302
    first = till.get("/").content.decode()
    assert "Update 0.2.0 could not be installed; you are on 0.1.0." in first
    assert 'role="alert"' in first
    again = till.get("/").content.decode()
    assert "could not be installed" not in again
