"""Per-platform releases: a client sees only its own platform's bundle; the bundle's files as blobs."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from maintenance.updates.repository import UpdateRepository, bundle_manifest
from maintenance.updates.versioning import dependency_notes, platform_tag
from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.range_server import RangeServer
from tests.helpers.updates import client_env

ALPHA, BETA = "testos-alpha", "testos-beta"


def _build_module():
    spec = importlib.util.spec_from_file_location("aurswift_packaging_build", REPO_ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


build = _build_module()


def _fake_bundle(folder: Path, platform: str, version: str) -> Path:
    """A small stand-in for a frozen bundle: an executable, resources, a symlink, the app's files."""
    (folder / "_internal" / "app" / "aurswift").mkdir(parents=True)
    exe = folder / "aurswift"
    exe.write_text(f"#!/bin/sh\necho {platform}\n")
    exe.chmod(0o755)
    (folder / "_internal" / f"lib-{platform}.so.1").write_bytes(platform.encode() * 2000)
    os.symlink(f"lib-{platform}.so.1", folder / "_internal" / f"lib-{platform}.so")
    (folder / "_internal" / "shared.txt").write_text("the same on every platform\n")
    (folder / "_internal" / "app" / "aurswift" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    return folder


@pytest.fixture(scope="module")
def two_platforms(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("platforms")
    repo = UpdateRepository(base / "repo", base / "keys")
    repo.initialise()
    published = {}
    for platform, version in ((ALPHA, "5.0.0"), (BETA, "6.0.0")):  # beta is newer: alpha must still get 5.0.0
        bundle = _fake_bundle(base / platform / "aurswift", platform, version)
        archive = build.write_archive(bundle, base / f"aurswift-{version}-{platform}.tar.gz")
        published[platform] = repo.publish_bundle(
            bundle, archive, version, f"### Features\n- {platform}", platform, extra={"packages": {}}
        )
    return {"repo": repo.dir, "published": published, "base": base}


def test_build_and_client_agree_on_the_platform_tag():
    assert platform_tag() == build.platform_tag()
    for system, machine in [("linux", "x86_64"), ("win32", "AMD64"), ("darwin", "arm64"), ("linux", "aarch64")]:
        assert platform_tag(system, machine) == build.platform_tag(system, machine)


def test_each_platform_has_its_own_signed_latest_manifest_and_archive(two_platforms):
    targets = two_platforms["repo"] / "targets"
    signed = json.loads((two_platforms["repo"] / "metadata" / "targets.json").read_text())["signed"]["targets"]
    for platform, version in ((ALPHA, "5.0.0"), (BETA, "6.0.0")):
        latest = json.loads((targets / f"latest-{platform}.json").read_text())
        assert (latest["version"], latest["platform"], latest["kind"]) == (version, platform, "bundle")
        assert {f"latest-{platform}.json", latest["manifest"], f"aurswift-{version}-{platform}.tar.gz"} <= set(signed)
        manifest = json.loads((targets / latest["manifest"]).read_text())
        assert manifest["files"][f"_internal/lib-{platform}.so"] == {"link": f"lib-{platform}.so.1"}
        assert manifest["files"]["aurswift"]["mode"] == 0o755
        for entry in manifest["files"].values():
            if "sha256" in entry:
                assert (targets / "blobs" / entry["sha256"]).stat().st_size == entry["length"]
    assert not any(name.startswith("blobs/") for name in signed), "blobs are verified through their manifest"
    assert "latest.json" not in signed


def test_a_client_sees_only_its_own_platform(two_platforms, app_env, data_dir):
    server = RangeServer(two_platforms["repo"])
    try:
        env = {**client_env(app_env, server.url, two_platforms["repo"]), "AURSWIFT_UPDATE_PLATFORM": ALPHA}
        check = manage("check_update", "--json", env=env)
        assert check.returncode == 0, check.stderr
        offer = json.loads(check.stdout)
        assert (offer["version"], offer["platform"], offer["kind"]) == ("5.0.0", ALPHA, "bundle")
        applied = manage("apply_update", env=env)
        assert applied.returncode == 0, applied.stderr
        staged = data_dir / "updates" / "staged" / "5.0.0" / "aurswift-5.0.0"
        assert (staged / "aurswift").read_text() == f"#!/bin/sh\necho {ALPHA}\n" and os.access(
            staged / "aurswift", os.X_OK
        )
        assert os.readlink(staged / "_internal" / f"lib-{ALPHA}.so") == f"lib-{ALPHA}.so.1"
        assert bundle_manifest(staged) == bundle_manifest(two_platforms["base"] / ALPHA / "aurswift")
        beta_blobs = {
            entry["sha256"]
            for entry in json.loads(
                (two_platforms["repo"] / "targets" / two_platforms["published"][BETA]["manifest"]).read_text()
            )["files"].values()
            if "sha256" in entry
        }
        alpha_blobs = {
            entry["sha256"]
            for entry in json.loads(
                (two_platforms["repo"] / "targets" / two_platforms["published"][ALPHA]["manifest"]).read_text()
            )["files"].values()
            if "sha256" in entry
        }
        fetched = server.paths()
        assert not [p for p in fetched if BETA in p or "6.0.0" in p], fetched
        assert not [p for p in fetched if p.rsplit("/", 1)[-1] in beta_blobs - alpha_blobs], fetched
    finally:
        server.stop()


def test_a_platform_with_no_release_is_told_so(two_platforms, app_env, data_dir):
    env = {**client_env(app_env, two_platforms["repo"].as_uri(), two_platforms["repo"])}
    env["AURSWIFT_UPDATE_PLATFORM"] = "testos-gamma"
    proc = manage("check_update", env=env)
    assert proc.returncode == 2 and "no release for this platform (testos-gamma)" in proc.stderr, proc.stderr


def test_the_delta_plan_compares_files_and_links(two_platforms, tmp_path):
    from maintenance.updates.client import plan_delta

    manifest_name = two_platforms["published"][ALPHA]["manifest"]
    manifest = json.loads((two_platforms["repo"] / "targets" / manifest_name).read_text())
    installed = _fake_bundle(tmp_path / "installed", ALPHA, "4.0.0")  # only the version file differs
    plan = plan_delta(manifest, installed)
    assert plan.download == ["_internal/app/aurswift/__init__.py"]
    assert plan.download_bytes == len('__version__ = "5.0.0"\n')


@pytest.mark.parametrize("link", ["../../etc/passwd", "/etc/passwd", "../../../x"])
def test_a_link_out_of_the_release_is_refused(link):
    from maintenance.updates.client import UpdateError, plan_delta

    manifest = {"folder": "aurswift-1.0.0", "files": {"_internal/lib.so": {"link": link}}}
    with pytest.raises(UpdateError, match="points outside its folder"):
        plan_delta(manifest, Path("/nonexistent"))


def test_release_notes_list_dependency_changes():
    notes = dependency_notes(
        {"Django": "5.2.18", "tuf": "7.0.1", "six": "1.16.0"},
        {"Django": "5.2.19", "tuf": "7.0.1", "iniconfig": "2.3.1"},
    )
    assert notes.splitlines() == [
        "### Dependencies",
        "- Django 5.2.18 → 5.2.19",
        "- iniconfig 2.3.1 (new)",
        "- six 1.16.0 (removed)",
    ]
    assert dependency_notes({"tuf": "7.0.1"}, {"tuf": "7.0.1"}) == ""
