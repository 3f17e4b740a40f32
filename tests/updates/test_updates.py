"""Releases from conventional commits, signed metadata, and a client that trusts only its root.

Two real releases are built by ``build_release`` from a git clone of this
project and served by a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance.updates.versioning import next_version, release_notes
from tests.helpers.app import manage
from tests.helpers.updates import client_env, free_port


def test_versions_follow_conventional_commits():
    assert next_version("1.4.0", ["fix: rounding", "chore: tidy"]) == "1.4.1"
    assert next_version("1.4.0", ["feat: tables", "fix: rounding"]) == "1.5.0"
    assert next_version("1.4.0", ["feat!: new receipt layout"]) == "2.0.0"
    assert next_version("1.4.0", ["fix: x\n\nBREAKING CHANGE: drops old printers"]) == "2.0.0"
    assert next_version("1.4.0", ["docs: readme", "chore: ci"]) is None
    notes = release_notes(["feat: table management", "fix(till): payment rounding", "chore: bump"])
    assert "### Features\n- table management" in notes and "### Fixes\n- payment rounding" in notes
    assert "bump" not in notes


def test_build_release_bumps_from_commits_and_signs(releases):
    assert (releases["first"], releases["second"]) == ("0.2.0", "0.2.1")
    assert releases["nothing"].returncode == 2 and "nothing to release" in releases["nothing"].stderr
    signed = json.loads((releases["repo"] / "metadata" / "targets.json").read_text())["signed"]["targets"]
    assert {"aurswift-0.2.0.tar.gz", "aurswift-0.2.1.tar.gz", "latest.json"} <= set(signed)
    for version in ("0.2.0", "0.2.1"):  # every file of every release is a signed, content-addressed target
        manifest = json.loads((releases["repo"] / "targets" / "manifests" / f"aurswift-{version}.json").read_text())
        assert f"manifests/aurswift-{version}.json" in signed
        assert "pos/migrations/0001_initial.py" in manifest["files"]
        for entry in manifest["files"].values():
            assert signed[f"blobs/{entry['sha256']}"]["hashes"]["sha256"] == entry["sha256"]
    latest = json.loads((releases["repo"] / "targets" / "latest.json").read_text())
    assert latest["version"] == "0.2.1" and "receipt footer wraps" in latest["notes"]
    tags = subprocess.run(["git", "-C", str(releases["project"]), "tag"], capture_output=True, text=True).stdout
    assert "v0.2.0" in tags and "v0.2.1" in tags


def test_check_and_apply_stage_the_newest_release(releases, serve, app_env, data_dir):
    server = serve(releases["repo"])
    env = client_env(app_env, server.url, releases["repo"])
    check = manage("check_update", env=env)
    assert (check.returncode, check.stdout.strip()) == (0, "Update available: 0.2.1")
    as_json = json.loads(manage("check_update", "--json", env=env).stdout)
    assert as_json["version"] == "0.2.1" and as_json["update_available"] is True
    applied = manage("apply_update", env=env)
    assert applied.returncode == 0, applied.stderr
    staged = data_dir / "updates" / "staged" / "0.2.1" / "aurswift-0.2.1"
    assert '__version__ = "0.2.1"' in (staged / "aurswift" / "__init__.py").read_text()
    assert (staged / "pos" / "migrations" / "0001_initial.py").exists()
    assert (staged / "maintenance" / "updates" / "trusted_root.json").exists()
    assert _tree(staged) == _archive_tree(releases["repo"] / "targets" / "aurswift-0.2.1.tar.gz", "aurswift-0.2.1")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _archive_tree(archive: Path, folder: str) -> dict[str, bytes]:
    import tarfile

    with tarfile.open(archive) as tar:
        return {
            m.name.removeprefix(folder + "/"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_only_the_changed_files_are_downloaded(releases, serve, app_env, data_dir, tmp_path):
    """A copy running the commit released as 0.2.0 already has every file of 0.2.1 but the few that differ.

    It runs from a clone of the release's own project, not from this working tree, so what is
    downloaded does not depend on uncommitted work here.
    """
    running = tmp_path / "running"
    subprocess.run(["git", "clone", "-q", str(releases["project"]), str(running)], check=True)
    subprocess.run(["git", "-C", str(running), "checkout", "-q", "HEAD~1"], check=True)  # before the fix commit
    server = serve(releases["repo"])
    env = client_env(app_env, server.url, releases["repo"])

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(running / "manage.py"), *args], cwd=running, env=env, capture_output=True, text=True
        )

    offer = json.loads(run("check_update", "--json").stdout)
    archive_size = (releases["repo"] / "targets" / "aurswift-0.2.1.tar.gz").stat().st_size
    assert offer["manifest"] == "manifests/aurswift-0.2.1.json"
    # the version stamp (aurswift/__init__.py), the shipped trusted root and the new CHANGES.txt
    assert offer["changed_files"] == 3, offer
    assert offer["size"] < archive_size / 5
    applied = run("apply_update")
    assert applied.returncode == 0, applied.stderr
    staged = data_dir / "updates" / "staged" / "0.2.1"
    assert json.loads((staged / "staged.json").read_text())["changed_files"] == offer["changed_files"]
    assert (staged / "aurswift-0.2.1" / "CHANGES.txt").read_text() == "receipt footer fixed\n"
    blobs = list((data_dir / "updates" / "downloads").glob("blobs*"))
    assert len(blobs) == offer["changed_files"] and not list((data_dir / "updates" / "downloads").glob("*.tar.gz"))


def test_a_tampered_changed_file_is_refused(releases, serve, app_env, data_dir):
    server = serve(releases["repo"])
    manifest = json.loads((server.dir / "targets" / "manifests" / "aurswift-0.2.1.json").read_text())
    blob = server.dir / "targets" / "blobs" / manifest["files"]["CHANGES.txt"]["sha256"]
    blob.write_bytes(b"receipt footer fixed, and a backdoor\n")
    _refused(client_env(app_env, server.url, releases["repo"]), "apply_update", data_dir, "tampered or truncated")


def _whole_archive(env: dict[str, str]) -> dict[str, str]:
    return {**env, "AURSWIFT_UPDATE_DELTA": "false"}


def _refused(env: dict[str, str], command: str, data_dir: Path, expected: str) -> None:
    proc = manage(command, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert expected in proc.stderr, proc.stderr
    staged = data_dir / "updates" / "staged"
    assert not staged.exists() or not any(p for p in staged.iterdir() if not p.name.startswith(".")), "nothing staged"


def test_tampered_archive_is_refused(releases, serve, app_env, data_dir):
    server = serve(releases["repo"])
    archive = server.dir / "targets" / "aurswift-0.2.1.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    env = _whole_archive(client_env(app_env, server.url, releases["repo"]))
    _refused(env, "apply_update", data_dir, "tampered or truncated")


def test_truncated_download_is_refused(releases, serve, app_env, data_dir):
    server = serve(releases["repo"])
    archive = server.dir / "targets" / "aurswift-0.2.1.tar.gz"
    archive.write_bytes(archive.read_bytes()[:5000])
    env = _whole_archive(client_env(app_env, server.url, releases["repo"]))
    _refused(env, "apply_update", data_dir, "tampered or truncated")


def test_wrong_signature_is_refused(releases, serve, app_env, data_dir):
    server = serve(releases["repo"])
    path = server.dir / "metadata" / "timestamp.json"
    doc = json.loads(path.read_text())
    doc["signed"]["version"] += 5  # changed without the timestamp key
    path.write_text(json.dumps(doc))
    _refused(client_env(app_env, server.url, releases["repo"]), "check_update", data_dir, "not signed")


def test_expired_metadata_is_refused(releases, serve, app_env, data_dir):
    from maintenance.updates.repository import UpdateRepository

    server = serve(releases["repo"])
    UpdateRepository(server.dir, releases["keys"]).resign(
        timestamp_expires=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    )
    _refused(client_env(app_env, server.url, releases["repo"]), "check_update", data_dir, "expired")


def test_replayed_older_metadata_is_refused(releases, serve, app_env, data_dir):
    new = serve(releases["repo"])
    assert manage("check_update", env=client_env(app_env, new.url, releases["repo"])).returncode == 0
    old = serve(releases["v1"])  # an attacker replays the repository as it was at 0.2.0
    _refused(client_env(app_env, old.url, releases["repo"]), "check_update", data_dir, "older than what this app")


def test_release_older_than_installed_is_refused(serve, app_env, data_dir, tmp_path):
    from maintenance.updates.repository import UpdateRepository

    repo = UpdateRepository(tmp_path / "old-repo", tmp_path / "old-keys")
    repo.initialise()
    archive = tmp_path / "aurswift-0.0.9.tar.gz"
    archive.write_bytes(b"old release")
    repo.publish(archive, "0.0.9", "old")
    server = serve(repo.dir)
    _refused(client_env(app_env, server.url, repo.dir), "check_update", data_dir, "rollback")


def test_unreachable_server_is_refused(releases, app_env, data_dir):
    env = client_env(app_env, f"http://127.0.0.1:{free_port()}/", releases["repo"])
    _refused(env, "check_update", data_dir, "could not be reached")


class DyingServer:
    """Serves a repository but drops the connection half-way through release archives and files."""

    def __init__(self, directory: Path) -> None:
        import functools
        import threading
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class Handler(SimpleHTTPRequestHandler):
            def copyfile(self, source, outputfile) -> None:
                if self.path.endswith(".tar.gz") or "/blobs/" in self.path:
                    data = source.read()
                    outputfile.write(data[: len(data) // 2])
                    outputfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                super().copyfile(source, outputfile)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("whole_archive", [True, False], ids=["archive", "changed-files"])
def test_server_dying_mid_download_is_refused_then_a_clean_retry_works(
    releases, serve, app_env, data_dir, whole_archive
):
    def env_for(url: str) -> dict[str, str]:
        env = client_env(app_env, url, releases["repo"])
        return _whole_archive(env) if whole_archive else env

    dying = DyingServer(releases["repo"])
    try:
        _refused(env_for(dying.url), "apply_update", data_dir, "Download refused")
    finally:
        dying.stop()
    downloads = data_dir / "updates" / "downloads"
    assert not list(downloads.glob("*.tar.gz")) and not list(downloads.glob("blobs*")), "no half download is kept"
    healthy = serve(releases["repo"])
    retry = manage("apply_update", env=env_for(healthy.url))
    assert retry.returncode == 0, retry.stderr
    assert (data_dir / "updates" / "staged" / "0.2.1" / "staged.json").exists()


def test_no_update_starts_while_a_sale_is_open(db):
    from maintenance.updates.client import UpdateError, UpdateOffer
    from maintenance.updates.service import AVAILABLE, UpdateState
    from pos.models import Product
    from pos.services import demo, orders

    demo.create_demo_data()
    from django.contrib.auth import get_user_model

    order = orders.open_order(get_user_model().objects.get(username="cashier"))
    orders.add_product(order, Product.objects.first())
    update = UpdateState(status=AVAILABLE, offer=UpdateOffer("0.1.0", "0.2.0", "aurswift-0.2.0.tar.gz", "", 10))
    with pytest.raises(UpdateError, match="A sale is open on the till"):
        update.start_download()
    assert update.status == AVAILABLE


def test_same_version_is_up_to_date_and_nothing_is_staged(serve, app_env, data_dir, tmp_path):
    from aurswift import __version__
    from maintenance.updates.repository import UpdateRepository

    repo = UpdateRepository(tmp_path / "same-repo", tmp_path / "same-keys")
    repo.initialise()
    archive = tmp_path / f"aurswift-{__version__}.tar.gz"
    archive.write_bytes(b"same release")
    repo.publish(archive, __version__, "nothing new")
    server = serve(repo.dir)
    env = client_env(app_env, server.url, repo.dir)
    check = manage("check_update", env=env)
    assert (check.returncode, check.stdout.strip()) == (0, f"Up to date: {__version__}")
    applied = manage("apply_update", env=env)
    assert (applied.returncode, applied.stdout.strip()) == (0, f"Up to date: {__version__}")
    assert not (data_dir / "updates" / "staged").exists()


@pytest.mark.parametrize("name", ["../pos_system.db", "/etc/passwd", "pos/../../escape.py", ""])
def test_a_release_file_outside_its_folder_is_refused(name):
    from maintenance.updates.client import UpdateError, _release_path

    with pytest.raises(UpdateError, match="outside its folder"):
        _release_path(name)


def test_a_repository_in_a_local_folder_works_through_a_file_url(releases, app_env, data_dir):
    """docs/design.md section 7: AURSWIFT_UPDATE_URL may be file:// (a shop without internet, a USB stick)."""
    missing = client_env(app_env, (releases["repo"].parent / "no-such-repo").as_uri(), releases["repo"])
    _refused(missing, "check_update", data_dir, "Update check failed")
    env = client_env(app_env, releases["repo"].as_uri(), releases["repo"])
    check = manage("check_update", env=env)
    assert (check.returncode, check.stdout.strip()) == (0, "Update available: 0.2.1"), check.stderr
    applied = manage("apply_update", env=env)
    assert applied.returncode == 0, applied.stderr
    staged = data_dir / "updates" / "staged" / "0.2.1" / "aurswift-0.2.1"
    assert (staged / "CHANGES.txt").read_text() == "receipt footer fixed\n"


def test_staging_again_killed_half_way_never_leaves_half_a_release_marked_staged(releases, serve, app_env, data_dir):
    """A second apply_update replaces the staged release by renames: a kill leaves it whole or absent."""
    import signal

    from maintenance.updates.install import staged_version
    from tests.helpers.app import REPO_ROOT

    server = serve(releases["repo"])
    env = client_env(app_env, server.url, releases["repo"])
    assert manage("apply_update", env=env).returncode == 0
    staged = data_dir / "updates" / "staged" / "0.2.1"
    whole = _tree(staged)
    again = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), "apply_update"],
        cwd=REPO_ROOT,
        env={**env, "AURSWIFT_TEST_PAUSE_AT": "restaging"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in again.stderr:  # type: ignore[union-attr]
        if line.startswith("AURSWIFT PAUSED AT restaging"):
            break
    again.send_signal(signal.SIGKILL)
    again.communicate(timeout=30)
    assert staged_version(data_dir) is None, "no staged.json over half a release: nothing is staged"
    assert manage("apply_update", env=env).returncode == 0
    assert staged_version(data_dir) == "0.2.1" and _tree(staged) == whole
