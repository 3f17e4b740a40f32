"""Signing keys never live in the folder that is hosted (docs/design.md section 5).

The repository built by ``build_release`` (the ``releases`` fixture of
test_updates.py, built without ``--keys``) is served by a real HTTP server on
loopback; every file it serves is fetched and none is a private key. A
repository folder holding key material is refused, and nothing is published.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from maintenance.updates.keys import ROLES, Keyring, key_material
from tests.helpers.app import manage
from tests.helpers.updates import Server

# a PEM private key block: header, base64 body, footer (spelt in pieces so this file, shipped in
# every release as a blob, is not itself one)
PEM_PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE" + rb" KEY-----\s*[A-Za-z0-9+/=\s]{16,}?-----END")
COMMON_KEY_PATHS = [
    *(f"keys/{role}.pem" for role in ROLES),
    *(f"{role}.pem" for role in ROLES),
    *(f"metadata/{role}.pem" for role in ROLES),
    *(f"targets/{role}.pem" for role in ROLES),
    "keys/",
    ".keys/",
    "release-keys/targets.pem",
    "private.pem",
    "key.pem",
    "id_ed25519",
    "../repo-keys/targets.pem",
]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # a loopback test server
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _is_private_key(data: bytes, keys: set[bytes]) -> bool:
    return bool(PEM_PRIVATE.search(data)) or any(key.strip() in data for key in keys)


def test_the_keys_are_created_outside_the_repository_owner_only(releases):
    keys = Keyring(releases["keys"])
    assert keys.present() == list(ROLES)
    assert not releases["keys"].resolve().is_relative_to(releases["repo"].resolve())
    assert stat.S_IMODE(releases["keys"].stat().st_mode) == 0o700
    for role in ROLES:
        assert stat.S_IMODE(keys.path(role).stat().st_mode) == 0o600
    assert (
        f"Created development signing keys (root, targets, snapshot, timestamp) in {releases['keys']}"
        in (releases["first_stderr"])
    )
    assert key_material(releases["repo"]) == []
    assert not (releases["repo"] / "keys").exists()


def test_a_served_repository_exposes_no_key(releases, tmp_path):
    served = tmp_path / "www" / "repo"
    shutil.copytree(releases["repo"], served)
    secrets = Keyring(releases["keys"]).key_bytes()
    assert len(secrets) == len(ROLES)
    server = Server(served)
    try:
        files = sorted(p.relative_to(served).as_posix() for p in served.rglob("*") if p.is_file())
        assert "metadata/root.json" in files and "targets/latest.json" in files
        for name in files:
            status, body = _get(server.url + name)
            assert status == 200, name
            assert not _is_private_key(body, secrets), f"{name} is a private key"
        for folder in ("", "metadata/", "targets/"):  # the directory listings the server shows
            status, body = _get(server.url + folder)
            assert status == 200 and b".pem" not in body and b"keys" not in body.lower(), folder
        for name in COMMON_KEY_PATHS:
            status, body = _get(server.url + name)
            assert status == 404, (name, status)
            assert not _is_private_key(body, secrets), name
    finally:
        server.stop()


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time: any write shows."""
    files = (p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def _project_with_a_fix(releases: dict, tmp_path: Path) -> Path:
    """A clone of the release project (its tags included) with one more fix: something to release."""
    project = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(releases["project"]), str(project)], check=True)
    (project / "NEW.txt").write_text("a fix\n")
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    subprocess.run([*git, "add", "NEW.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "fix: new file"], check=True)
    return project


def _tags(project: Path) -> str:
    return subprocess.run(["git", "-C", str(project), "tag"], capture_output=True, text=True, check=True).stdout


def _build(repo: Path, keys: Path, project: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["AURSWIFT_DATA_DIR"] = str(tmp_path / "builder-data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return manage("build_release", "--repo", str(repo), "--keys", str(keys), "--project", str(project), env=env)


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda repo, keys: (repo / "targets" / "stray.pem").write_bytes(b"not even a key"), id="pem-name"),
        pytest.param(lambda repo, keys: shutil.copy(keys / "targets.pem", repo / "signing.txt"), id="pem-content"),
        pytest.param(lambda repo, keys: (repo / "metadata" / "deploy.key").write_text("x"), id="key-name"),
        pytest.param(lambda repo, keys: (repo / "targets" / "old" / "keys").mkdir(parents=True), id="keys-folder"),
    ],
)
def test_build_release_refuses_a_repository_holding_key_material(releases, tmp_path, plant):
    repo = tmp_path / "repo"
    shutil.copytree(releases["repo"], repo)
    plant(repo, releases["keys"])
    project = _project_with_a_fix(releases, tmp_path)
    before, tags = _tree(repo), _tags(project)
    built = _build(repo, releases["keys"], project, tmp_path)
    assert built.returncode == 2, (built.stdout, built.stderr)
    assert "Release not built:" in built.stderr and "Nothing was published" in built.stderr
    assert built.stdout == ""
    assert _tree(repo) == before, "nothing published"
    assert _tags(project) == tags, "nothing tagged"


def test_build_release_refuses_a_new_repository_folder_with_a_pem_and_creates_no_keys(releases, tmp_path):
    repo, keys = tmp_path / "new-repo", tmp_path / "new-keys"
    repo.mkdir()
    (repo / "server.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    built = _build(repo, keys, releases["project"], tmp_path)
    assert built.returncode == 2 and "server.pem" in built.stderr and "Nothing was published" in built.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["server.pem"] and not keys.exists()


def test_an_old_repository_with_keys_inside_is_refused_and_nothing_is_moved(releases, tmp_path):
    """A repository from before this change kept ``keys/`` inside: say how to move them, move nothing."""
    repo = tmp_path / "old-repo"
    shutil.copytree(releases["repo"], repo)
    shutil.copytree(releases["keys"], repo / "keys")
    before = _tree(repo)
    built = _build(repo, tmp_path / "elsewhere", releases["project"], tmp_path)
    assert built.returncode == 2
    assert f"{repo / 'keys'} holds signing keys inside the update repository" in built.stderr
    assert "nothing was moved" in built.stderr and f'mv "{repo / "keys"}"' in built.stderr
    assert _tree(repo) == before and not (tmp_path / "elsewhere").exists()


def test_keys_inside_the_repository_are_refused(releases, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(releases["repo"], repo)
    built = _build(repo, repo / "targets" / "signing", releases["project"], tmp_path)
    assert built.returncode == 2 and "is inside the update repository" in built.stderr
    assert not (repo / "targets" / "signing").exists()


def test_an_existing_repository_needs_its_own_keys(releases, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(releases["repo"], repo)
    before = _tree(repo)
    empty = _build(repo, tmp_path / "no-keys", releases["project"], tmp_path)
    assert empty.returncode == 2 and "Pass --keys with the folder that holds this repository's keys" in empty.stderr
    assert not (tmp_path / "no-keys").exists(), "no new keys for an existing repository"
    other = tmp_path / "other-keys"
    Keyring(other).create_development_keys()
    wrong = _build(repo, other, releases["project"], tmp_path)
    assert wrong.returncode == 2 and "is not the targets key of the repository" in wrong.stderr
    assert _tree(repo) == before
