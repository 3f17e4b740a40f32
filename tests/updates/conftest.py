"""Fixtures of the update tests: two real releases built by ``build_release`` from a clone of this project."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from maintenance.updates.keys import KEYS_ENV
from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.updates import Server


@pytest.fixture(scope="session")
def releases(
    tmp_path_factory,
) -> dict[str, Path]:
    """Build 0.2.0 (feat commits since the start) and 0.2.1 (one fix) into one repository."""
    base = tmp_path_factory.mktemp("releases")
    project, repo = base / "project", base / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(project)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "tag",
            "-d",
            *subprocess.run(
                ["git", "-C", str(project), "tag", "--list", "v*"], capture_output=True, text=True
            ).stdout.split(),
        ],
        capture_output=True,
    )
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", KEYS_ENV}}
    env["AURSWIFT_DATA_DIR"] = str(base / "builder-data")
    # no --keys: docs/design.md section 7's contract; the default keys folder is the (isolated) user config dir
    env["XDG_CONFIG_HOME"] = str(base / "config")
    first = manage("build_release", "--repo", str(repo), "--project", str(project), env=env)
    assert first.returncode == 0, first.stderr
    snapshot_v1 = base / "repo-at-0.2.0"
    shutil.copytree(repo, snapshot_v1)
    (project / "CHANGES.txt").write_text("receipt footer fixed\n")
    subprocess.run([*git, "add", "CHANGES.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fix: receipt footer wraps"], check=True)
    second = manage("build_release", "--repo", str(repo), "--project", str(project), env=env)
    assert second.returncode == 0, second.stderr
    nothing = manage("build_release", "--repo", str(repo), "--project", str(project), env=env)
    return {
        "repo": repo,
        "keys": base / "config" / "aurswift" / "release-keys",
        "first_stderr": first.stderr,
        "v1": snapshot_v1,
        "project": project,
        "first": first.stdout.strip(),
        "second": second.stdout.strip(),
        "nothing": nothing,
    }


@pytest.fixture
def serve(tmp_path):
    servers: list[Server] = []

    def start(repo: Path) -> Server:
        copy = tmp_path / f"served-{len(servers)}"
        shutil.copytree(repo, copy)
        server = Server(copy)
        server.dir = copy  # type: ignore[attr-defined]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
