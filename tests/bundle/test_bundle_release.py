"""Publishing bundles: two releases in one loopback repository, and a client on v1 fetching only what changed.

v1 is the session's cached bundle (tests/bundle/conftest.py), published as it
is. v2 is built by ``build_release``'s bundle path (packaging/build.py, a real
PyInstaller run, ~2 minutes) from a git copy of the same app files with one
module changed. The v2 manifest must differ from v1 only in that module, the
version stamp and the trusted root that ``build_release`` ships; a client
running v1 (its files compared in ``aurswift.paths.bundle_root()``'s place)
plans and downloads only those, and the bundle it assembles is v2's exactly.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from maintenance.updates import client
from maintenance.updates.release import build_bundle_release
from maintenance.updates.repository import bundle_manifest, hash_file
from tests.helpers.app import REPO_ROOT
from tests.helpers.bundle import RepositoryServer, build_module, project_copy

pytestmark = [pytest.mark.slow, pytest.mark.bundle]
CHANGED_MODULE = "pos/services/reports.py"


def _project_copy(into: Path, bundle_app: Path, version: str) -> set[str]:
    """Copy what the bundle is built from into a new git repository tagged v<version>; return drifted files.

    "Drifted": app files whose content already differs from what the cached v1 bundle carries (other
    work in progress edited them after the cache was built).
    """
    project_copy(into, tag=version, app_from=bundle_app)
    return {
        name
        for name in build_module.app_files(into)
        if name != "aurswift/__init__.py"
        and (not (bundle_app / name).is_file() or hash_file(bundle_app / name)[0] != hash_file(into / name)[0])
    }


def test_a_code_change_publishes_and_fetches_only_the_changed_files(bundle, tmp_path, settings, monkeypatch):
    repo_dir, keys = tmp_path / "repo", tmp_path / "keys"
    v1_info = {**bundle.info, "bundle": str(bundle.folder), "archive": str(bundle.archive)}
    v1 = build_bundle_release(REPO_ROOT, repo_dir, keys, prebuilt=v1_info)
    platform = v1.platform

    project = tmp_path / "project"
    drift = _project_copy(project, bundle.folder / "_internal" / "app", v1.version)
    module = project / CHANGED_MODULE
    module.write_text(module.read_text(encoding="utf-8") + "\n\nREPORTS_REVISION = 2\n", encoding="utf-8")
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    subprocess.run([*git, "commit", "-q", "-am", "fix: reports carry a revision"], check=True)
    v2 = build_bundle_release(project, repo_dir, keys, compress_level=1)
    assert v2.platform == platform and v2.version != v1.version
    assert "reports carry a revision" in v2.notes and "### Dependencies" not in v2.notes

    targets = repo_dir / "targets"
    m1 = json.loads((targets / v1.published["manifest"]).read_text())["files"]
    m2 = json.loads((targets / v2.published["manifest"]).read_text())["files"]
    differ = {name for name in set(m1) | set(m2) if m1.get(name) != m2.get(name)}
    expected = {
        f"_internal/app/{name}"
        for name in {CHANGED_MODULE, "aurswift/__init__.py", "maintenance/updates/trusted_root.json", *drift}
    }
    assert differ == expected, sorted(differ ^ expected)
    assert json.loads((targets / f"latest-{platform}.json").read_text())["version"] == v2.version
    assert (targets / f"aurswift-{v2.version}-{platform}.tar.gz").is_file()
    links = [name for name, entry in m2.items() if "link" in entry]
    print(
        f"\nv1 {v1.version}: {len(m1)} entries ({len(links)} links), {v1.published['bundle_bytes'] / 1e6:.0f} MB; "
        f"v2 {v2.version} added {v2.published['new_blobs']} blobs ({v2.published['new_blob_bytes']} bytes); "
        f"changed: {sorted(differ)}"
    )

    # A client running v1, frozen: its files are the bundle's.
    server = RepositoryServer(repo_dir)
    try:
        settings.DATA_DIR = tmp_path / "data"
        settings.AURSWIFT_UPDATE_URL = server.url
        settings.AURSWIFT_UPDATE_TRUSTED_ROOT = str(repo_dir / "metadata" / "1.root.json")
        settings.AURSWIFT_UPDATE_PLATFORM = platform
        settings.AURSWIFT_VERSION = v1.version
        settings.AURSWIFT_UPDATE_DELTA = True
        monkeypatch.setattr(client, "installed_root", lambda: bundle.folder)
        offer = client.check()
        assert offer.newer and offer.version == v2.version and offer.manifest == v2.published["manifest"]
        planned = sum(m2[name]["length"] for name in differ if name in m2)
        assert (offer.changed_files, offer.size) == (len([n for n in differ if n in m2]), planned)
        assert offer.size < v2.published["bundle_bytes"] / 1000
        staged = client.stage(offer)
        assert bundle_manifest(staged / f"aurswift-{v2.version}") == m2
        fetched = server.sent
        print(
            f"planned {planned} bytes of a {v2.published['bundle_bytes']} byte bundle "
            f"({planned / v2.published['bundle_bytes']:.6%}); fetched {fetched} bytes of release files"
        )
        assert fetched == planned
        assert not [p for p in server.paths() if p.endswith(".tar.gz")]
    finally:
        server.stop()
