"""What a code-only update downloads: two releases built by ``build_release``, checked from the first.

``python -m benchmarks.update_delta`` clones this repository, builds a release,
commits a one-line change to one module, builds the next release, and asks
the first release's own ``check_update --json`` (run from its unpacked folder,
so its files are the "installed copy") how much it would download.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed ({proc.returncode}): {proc.stdout} {proc.stderr}")
    return proc.stdout.strip()


def measure() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    with tempfile.TemporaryDirectory(prefix="aurswift-delta-") as tmp:
        base = Path(tmp)
        project, repo = base / "project", base / "repo"
        env["AURSWIFT_DATA_DIR"] = str(base / "builder")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
        for tag in _run(["git", "-C", str(project), "tag", "--list", "v*"], env).split():
            _run(["git", "-C", str(project), "tag", "-d", tag], env)
        build = [sys.executable, str(ROOT / "manage.py"), "build_release", "--repo", str(repo)]
        build += ["--project", str(project), "--keys", str(base / "keys")]
        first = _run(build, env)
        with (project / "pos" / "views.py").open("a", encoding="utf-8") as views:
            views.write("\n# a code-only change\n")
        git = ["git", "-C", str(project), "-c", "user.email=bench@example.com", "-c", "user.name=Bench"]
        _run([*git, "commit", "-qam", "fix: a code-only change"], env)
        second = _run(build, env)

        installed = base / "installed"
        with tarfile.open(repo / "targets" / f"aurswift-{first}.tar.gz") as tar:
            tar.extractall(installed, filter="data")
        client = {
            **env,
            "AURSWIFT_DATA_DIR": str(base / "client"),
            "AURSWIFT_UPDATE_URL": repo.as_uri(),
            "AURSWIFT_UPDATE_TRUSTED_ROOT": str(repo / "metadata" / "1.root.json"),
        }
        app = installed / f"aurswift-{first}"
        offer = json.loads(_run([sys.executable, str(app / "manage.py"), "check_update", "--json"], client, cwd=app))
        archive = (repo / "targets" / f"aurswift-{second}.tar.gz").stat().st_size
        manifest = json.loads((repo / "targets" / "manifests" / f"aurswift-{second}.json").read_text())
        return {
            "from": first,
            "to": second,
            "download_bytes": offer["size"],
            "changed_files": offer["changed_files"],
            "release_files": len(manifest["files"]),
            "archive_bytes": archive,
        }


def main() -> None:
    figures = measure()
    print(
        f"code-only update {figures['from']} → {figures['to']}: downloads {figures['download_bytes']:,} bytes "
        f"({figures['changed_files']} of {figures['release_files']} files) instead of the "
        f"{figures['archive_bytes']:,}-byte archive (ratio {figures['download_bytes'] / figures['archive_bytes']:.3f})"
    )


if __name__ == "__main__":
    main()
