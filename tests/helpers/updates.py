"""Update repositories for tests: releases built by ``build_release`` from a clone, served on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.app import REPO_ROOT, manage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m http.server`` on loopback, serving a copy of an update repository."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def client_env(app_env: dict[str, str], server_url: str, repo: Path) -> dict[str, str]:
    return {
        **app_env,
        "AURSWIFT_UPDATE_URL": server_url,
        "AURSWIFT_UPDATE_TRUSTED_ROOT": str(repo / "metadata" / "1.root.json"),
    }


FIELD_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("pos", "0003_refund_lines_and_line_voids")]
    operations = [migrations.AddField("product", "allergens", models.CharField(max_length=200, blank=True, default=""))]
"""
FAILING_MIGRATION = """from django.db import migrations, models


def boom(apps, schema_editor):
    raise RuntimeError("allergen import failed")


class Migration(migrations.Migration):
    dependencies = [("pos", "0003_refund_lines_and_line_voids")]
    operations = [
        migrations.AddField("product", "allergens", models.CharField(max_length=200, blank=True, default="")),
        migrations.RunPython(boom, migrations.RunPython.noop),
    ]
"""


def release(base: Path, migration: str, *, crash: bool = False) -> Path:
    """Clone this project, add the allergens migration, and build it into a new repository."""
    project = base / "project"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(project)], check=True)
    tags = subprocess.run(["git", "-C", str(project), "tag", "--list", "v*"], capture_output=True, text=True)
    if tags.stdout.split():
        subprocess.run(["git", "-C", str(project), "tag", "-d", *tags.stdout.split()], capture_output=True)
    models = project / "pos" / "models.py"
    anchor = "    active = models.BooleanField(default=True)\n"
    field = '    allergens = models.CharField(max_length=200, blank=True, default="")\n'
    text = models.read_text()
    start = text.index("class Product(")
    at = text.index(anchor, start) + len(anchor)
    models.write_text(text[:at] + field + text[at:])
    (project / "pos" / "migrations" / "0003_product_allergens.py").write_text(migration)
    if crash:  # a build that dies at start-up, before it could report ready
        startup = project / "aurswift" / "startup" / "state.py"
        startup.write_text(startup.read_text() + "\nraise RuntimeError('broken build')\n")
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "feat: allergens on products"], check=True)
    return build(base)


def build(base: Path) -> Path:
    """Build the next release of ``base/project`` into ``base/repo``, signed with the keys in ``base/keys``."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["AURSWIFT_DATA_DIR"] = str(base / "builder-data")
    repo, keys = base / "repo", base / "keys"
    built = manage(
        "build_release", "--repo", str(repo), "--keys", str(keys), "--project", str(base / "project"), env=env
    )
    assert built.returncode == 0, built.stderr
    return repo
