"""Resumable downloads: a download cut half way continues where it stopped (HTTP ``Range``) after a restart.

A real loopback server (tests/updates/range_server.py) counts the bytes of
release files it sends and cuts the connection after a given number; each
``apply_update`` is a new process (a restart of the app), so what carries over
is only what the first one left under ``<data>/updates/partial/``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from maintenance.updates.repository import ReleaseFile, UpdateRepository
from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.range_server import RangeServer
from tests.helpers.updates import client_env

BIG = 4 * 1024 * 1024
VERSION = "9.0.0"


@pytest.fixture(scope="module")
def big_release(tmp_path_factory) -> dict:
    """A repository whose release 9.0.0 differs from this checkout in a 4 MB file and the version stamp."""
    base = tmp_path_factory.mktemp("resume")
    repo = UpdateRepository(base / "repo", base / "keys")
    repo.initialise()
    init = (REPO_ROOT / "aurswift" / "__init__.py").read_text(encoding="utf-8")
    stamped = init.replace(init.split('__version__ = "')[1].split('"')[0], VERSION, 1)
    files = [
        ReleaseFile("aurswift/__init__.py", stamped.encode(), 0o644),
        ReleaseFile("static/pos/big-catalogue.bin", os.urandom(BIG), 0o644),
        ReleaseFile("manage.py", (REPO_ROOT / "manage.py").read_bytes(), 0o755),  # unchanged: copied, not fetched
    ]
    archive = base / f"aurswift-{VERSION}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for file in files:
            info = tarfile.TarInfo(f"aurswift-{VERSION}/{file.name}")
            info.size, info.mode = len(file.data), file.mode
            tar.addfile(info, io.BytesIO(file.data))
    repo.publish(archive, VERSION, "### Features\n- a big catalogue", files=files)
    changed = len(files[0].data) + len(files[1].data)
    return {"repo": repo.dir, "files": files, "changed": changed, "archive": archive.stat().st_size}


def _env(app_env, server, release, whole_archive: bool) -> dict[str, str]:
    env = client_env(app_env, server.url, release["repo"])
    if whole_archive:
        env["AURSWIFT_UPDATE_DELTA"] = "false"
    return env


def _staged_ok(data_dir: Path, release: dict) -> None:
    staged = data_dir / "updates" / "staged" / VERSION / f"aurswift-{VERSION}"
    for file in release["files"]:
        assert (staged / file.name).read_bytes() == file.data, file.name
    assert not list((data_dir / "updates" / "partial").glob("*")), "a finished download leaves no partial file"


@pytest.mark.parametrize("whole_archive", [False, True], ids=["changed-files", "archive"])
def test_a_download_cut_half_way_resumes_after_a_restart(big_release, app_env, data_dir, whole_archive):
    expected = big_release["archive"] if whole_archive else big_release["changed"]
    server = RangeServer(big_release["repo"], cut_after=expected // 2)
    try:
        env = _env(app_env, server, big_release, whole_archive)
        first = manage("apply_update", env=env)
        assert first.returncode == 2 and "Download refused" in first.stderr, (first.stdout, first.stderr)
        parts = list((data_dir / "updates" / "partial").glob("*.part"))
        kept = sum(p.stat().st_size for p in parts)
        assert parts and expected // 3 < kept <= expected // 2, kept
        meta = json.loads(parts[0].with_suffix(".json").read_text())
        assert set(meta) == {"path", "length", "sha256"}, "the partial file keeps its expected length and hash"
        cut_at = server.sent

        server.cut_after = None  # the server is back; the app starts again
        second = manage("apply_update", env=env)
        assert second.returncode == 0, second.stderr
        _staged_ok(data_dir, big_release)
        ranged = [r for r in server.requests if r[1] == 206]
        assert ranged, server.requests
        print(
            f"\n{'archive' if whole_archive else 'changed files'}: {expected} bytes to fetch; cut at {cut_at}, "
            f"fetched {server.sent} in total = {server.sent / expected:.3f}x; ranged requests: {len(ranged)}"
        )
        assert server.sent <= 1.1 * expected
    finally:
        server.stop()


def test_a_server_that_ignores_ranges_still_completes(big_release, app_env, data_dir):
    expected = big_release["changed"]
    server = RangeServer(big_release["repo"], ranges=False, cut_after=expected // 2)
    try:
        env = _env(app_env, server, big_release, False)
        assert manage("apply_update", env=env).returncode == 2
        server.cut_after = None
        second = manage("apply_update", env=env)
        assert second.returncode == 0, second.stderr
        _staged_ok(data_dir, big_release)
        assert all(status == 200 for _path, status, _asked in server.requests if "/targets/" in _path)
        assert any(asked for _path, _status, asked in server.requests), "the client did ask for a range"
        print(f"\nno Range support: {expected} bytes to fetch, {server.sent} fetched ({server.sent / expected:.2f}x)")
        assert expected <= server.sent <= 1.6 * expected
    finally:
        server.stop()


def test_a_tampered_partial_file_is_refused_then_thrown_away(big_release, app_env, data_dir):
    """Bytes already on disk are not trusted: python-tuf checks the whole file; a bad piece means starting over."""
    expected = big_release["changed"]
    server = RangeServer(big_release["repo"], cut_after=expected // 2)
    try:
        env = _env(app_env, server, big_release, False)
        assert manage("apply_update", env=env).returncode == 2
        (part,) = (data_dir / "updates" / "partial").glob("*.part")
        data = bytearray(part.read_bytes())
        data[100] ^= 0xFF
        part.write_bytes(bytes(data))
        server.cut_after = None
        refused = manage("apply_update", env=env)
        assert refused.returncode == 2 and "tampered or truncated" in refused.stderr, refused.stderr
        assert not list((data_dir / "updates" / "partial").glob("*.part")), "the bad piece is not kept"
        assert not (data_dir / "updates" / "staged" / VERSION).exists()
        again = manage("apply_update", env=env)
        assert again.returncode == 0, again.stderr
        _staged_ok(data_dir, big_release)
    finally:
        server.stop()
