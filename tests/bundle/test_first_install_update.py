"""From a first install to the next release, end to end, with frozen bundles only.

Two releases go into one loopback repository. v1 is the session's bundle
(tests/bundle/conftest.py). v2 is built from a copy of the same tree in which
one app module changed (it now imports a dependency), a migration was added,
and that dependency is new: a small pure-Python distribution made here
(``importlib.metadata`` sees it on the build's ``PYTHONPATH``). v2's build is
cached beside v1's, so only the first run after a change pays for it.

v1's first-install archive is extracted into an empty folder and started as
``./aurswift --headless`` under ``env -i`` (no virtualenv, no Python on PATH):
it hands over to the stable launcher beside it, finds v2, and a manager presses
"Update Now". The server dies half way through the download; once it is back,
"Update Now" again continues where it stopped (``Range``). Then "Restart &
Update": the launcher installs v2 and starts it on trial, v2 upgrades the
database with a backup, and from then on ``./aurswift manage …`` is v2.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tarfile
from pathlib import Path

import pytest

from maintenance.updates.release import build_bundle_release
from tests.helpers.app import REPO_ROOT, wait_until
from tests.helpers.bundle import (
    Bundle,
    RepositoryServer,
    build_cached,
    project_copy,
    pure_package,
    run_bundle,
    start_bundle_headless,
)
from tests.helpers.till_http import TillBrowser, demo_credentials

pytestmark = [pytest.mark.slow, pytest.mark.bundle]
DEP, DEP_VERSION = "aurswift_probe", "1.0"
DEP_FILLER = 2_000_000  # a module big enough for a download to be cut half way through it
CHANGED_MODULE = "pos/services/reports.py"
MODULE_PATCH = f"\n\nimport {DEP}  # noqa: E402\n\nPROBE_VERSION = {DEP}.__version__\n"
MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pos", "{previous}")]
    operations = []
"""


def _next_patch(version: str) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def _v2_project(into: Path, v1_app: Path) -> tuple[Path, str]:
    """v1's own files with the module changed and a migration added; return the project and the migration."""
    project = project_copy(into, app_from=v1_app)
    module = project / CHANGED_MODULE
    module.write_text(module.read_text(encoding="utf-8") + MODULE_PATCH, encoding="utf-8")
    migrations = sorted(p.stem for p in (project / "pos" / "migrations").glob("0*.py"))
    name = f"{int(migrations[-1][:4]) + 1:04d}_first_install_check"
    text = MIGRATION.format(previous=migrations[-1])
    (project / "pos" / "migrations" / f"{name}.py").write_text(text, encoding="utf-8")
    return project, f"pos/migrations/{name}.py"


@pytest.fixture(scope="module")
def releases(bundle: Bundle, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("first-install")
    repo, keys = base / "repo", base / "keys"
    v1 = build_bundle_release(REPO_ROOT, repo, keys, prebuilt=dict(bundle.info))
    version = _next_patch(v1.version)
    project, migration = _v2_project(base / "project", bundle.folder / "_internal" / "app")
    deps = pure_package(base / "deps", DEP, DEP_VERSION, filler_bytes=DEP_FILLER)
    inputs = hashlib.sha256(f"{version}\n{MODULE_PATCH}\n{migration}\n{DEP_FILLER}".encode()).hexdigest()[:12]
    v2_bundle = build_cached(
        bundle.folder.parent.parent / f"v2-{inputs}",  # inside v1's cache folder: dropped with it
        project=project,
        version=version,
        env={**os.environ, "PYTHONPATH": str(deps)},
    )
    print(f"v2 {version}: {v2_bundle.info['bundle_bytes'] / 1e6:.0f} MB, {'reused' if v2_bundle.reused else 'built'}")
    v2 = build_bundle_release(project, repo, keys, prebuilt=dict(v2_bundle.info))
    targets = repo / "targets"
    m1 = json.loads((targets / v1.published["manifest"]).read_text())["files"]
    m2 = json.loads((targets / v2.published["manifest"]).read_text())["files"]
    changed = {name for name in m2 if m1.get(name) != m2[name]}
    return {
        "repo": repo,
        "v1": v1,
        "v2": v2,
        "v1_bundle": bundle,
        "v2_bundle": v2_bundle,
        "m1": m1,
        "m2": m2,
        "changed": changed,
        "changed_bytes": sum(int(m2[name].get("length", 0)) for name in changed),
        "migration": migration,
    }


def test_v2_differs_from_v1_only_in_the_changed_module_the_migration_and_the_new_package(releases):
    changed, m1, m2 = releases["changed"], releases["m1"], releases["m2"]
    # Exactly: the changed module, the new migration, the version stamp, the new dependency (separate files
    # in _internal/, like every other package) and the list of bundled versions. Not the executable, not
    # Python, Django or Qt, not the stable launcher.
    assert changed == {
        f"_internal/app/{CHANGED_MODULE}",
        f"_internal/app/{releases['migration']}",
        "_internal/app/aurswift/__init__.py",
        f"_internal/{DEP}/__init__.pyc",
        f"_internal/{DEP}/table.pyc",
        "_internal/versions.json",
    }, sorted(changed)
    assert set(m1) <= set(m2), sorted(set(m1) - set(m2))
    assert m1["aurswift"] == m2["aurswift"] and m1["aurswift-launcher"] == m2["aurswift-launcher"]
    assert f"- {DEP} {DEP_VERSION} (new)" in releases["v2"].notes, releases["v2"].notes
    total = sum(int(entry.get("length", 0)) for entry in m2.values())
    print(
        f"\nv1 {releases['v1'].version} → v2 {releases['v2'].version}: {len(changed)} of {len(m2)} entries changed, "
        f"{releases['changed_bytes']:,} of {total:,} bytes ({releases['changed_bytes'] / total:.3%})"
    )


def _status(window: TillBrowser) -> dict:
    status, _, page = window.request("/updates/status/")
    assert status == 200, page[:300]
    return json.loads(page)


def _press(window: TillBrowser, action: str) -> None:
    status, _, page = window.form(f"/updates/{action}/", {}, form_page="/updates/")
    assert status == 200, page[:500]


def _wait_status(window: TillBrowser, *wanted: str, timeout: float = 180) -> dict:
    seen: dict = {}

    def reached() -> bool:
        seen.update(_status(window))
        return seen["status"] in wanted

    try:
        wait_until(reached, timeout=timeout, what=f"update status {wanted}")
    except AssertionError:
        raise AssertionError(f"update status stayed {seen}") from None
    return seen


def _sign_in_manager(app) -> TillBrowser:
    window = TillBrowser(app.base)
    status, _, page = window.request(app.url[len(app.base) :])
    assert status == 200, page[:3000] + "\n".join(app.output)

    def till_ready() -> bool:
        return "Who is on the till?" in window.request("/signin/")[2]

    try:
        wait_until(till_ready, timeout=120, what="the till's sign-in page")
    except AssertionError:
        raise AssertionError(window.request("/")[2][:3000] + "\n".join(app.output)) from None
    page = window.request("/signin/")[2]
    staff = {name: pk for pk, name in re.findall(r'name="staff" value="(\d+)"[^>]*>\s*<span>([^<]+)<small>', page)}
    creds = demo_credentials(app.output)
    manager = next(pk for name, pk in staff.items() if "Manager" in name)
    assert window.form("/signin/", {"staff": manager, "pin": creds["manager_pin"]})[1] == "/"
    return window


def test_a_first_install_updates_itself_to_v2_resuming_a_cut_download(releases, tmp_path):
    v1, v2, repo = releases["v1"], releases["v2"], releases["repo"]
    home = tmp_path / "First shop" / "AurSwift"  # an empty folder, a space in its path
    home.mkdir(parents=True)
    with tarfile.open(releases["v1_bundle"].archive) as tar:
        tar.extractall(home, filter="tar")
    assert (home / "aurswift").is_file() and (home / "aurswift-launcher").is_file()
    data = tmp_path / "data"
    data.mkdir()
    half = releases["changed_bytes"] // 2
    server = RepositoryServer(repo, die_after=half)
    extra = {
        "AURSWIFT_UPDATE_URL": server.url,
        "AURSWIFT_UPDATE_TRUSTED_ROOT": str(repo / "metadata" / "1.root.json"),  # this repository's keys
    }
    app = start_bundle_headless(home / "aurswift", data, timeout=180, **extra)
    try:
        # ./aurswift handed over to the stable launcher, which started the version it came with.
        assert "AurSwift stable launcher: starting bundled version" in app.output, app.output
        window = _sign_in_manager(app)
        offered = _wait_status(window, "available")
        assert (offered["installed"], offered["version"]) == (v1.version, v2.version)

        _press(window, "now")
        failed = _wait_status(window, "failed")
        server.dead.wait(30)
        assert server.sent == half, (server.sent, half)
        assert "could not be reached" in failed["error"] or "stopped answering" in failed["error"], failed
        assert not (data / "updates" / "staged" / v2.version).exists()
        assert list((data / "updates" / "partial").glob("*.part")), "the cut file's part was kept"

        server.start()  # the server is back, on the same address
        _press(window, "check")
        _wait_status(window, "available")
        _press(window, "now")
        _wait_status(window, "ready")
        ranged = [(path, asked) for path, status, asked in server.requests if status == 206]
        print(
            f"\nchanged files {releases['changed_bytes']:,} bytes; fetched {server.sent:,} bytes in total "
            f"({server.sent / releases['changed_bytes']:.3f}×), cut at {half:,}; resumed with {ranged}"
        )
        assert ranged, "the second try asked for the rest of the cut file only"
        assert releases["changed_bytes"] <= server.sent <= 1.1 * releases["changed_bytes"]
        assert not [p for p in server.paths() if p.endswith(".tar.gz")], "only the changed files, not the archive"

        _press(window, "restart")
        app.wait_for("Serving on ", count=2, timeout=180)
        assert f"AurSwift stable launcher: starting {v2.version} version" in app.output, app.output
        state_file = data / "app" / "current.json"
        wait_until(lambda: json.loads(state_file.read_text())["trial"] is False, timeout=180, what="v2 to report ready")
        assert json.loads(state_file.read_text())["current"] == v2.version
    finally:
        app.stop()
        server.stop()

    # v2 upgraded the database (its new migration), with a backup taken first.
    conn = sqlite3.connect(f"file:{data / 'pos_system.db'}?mode=ro", uri=True)
    try:
        applied = {row[0] for row in conn.execute("SELECT name FROM django_migrations WHERE app='pos'")}
    finally:
        conn.close()
    assert Path(releases["migration"]).stem in applied
    backups = [json.loads(p.read_text()) for p in (data / "backups").glob("*.json")]
    assert any(b.get("reason") == "before_migration" for b in backups), backups

    server.start()
    try:
        installed = data / "app" / "versions" / v2.version / f"aurswift-{v2.version}"
        for executable in (installed / "aurswift", home / "aurswift"):  # the installed v2, and the shortcut's
            proc = run_bundle(executable, "manage", "check_update", data_dir=data, **extra)
            assert (proc.returncode, proc.stdout.strip()) == (0, f"Up to date: {v2.version}"), proc.stderr
    finally:
        server.stop()
    code = f"from pos.services import reports; import {DEP}; print('probe', reports.PROBE_VERSION, {DEP}.__file__)"
    proc = run_bundle(home / "aurswift", "manage", "shell", "-c", code, data_dir=data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("probe ")]  # Django's shell says more
    _probe, running, where = line.split(" ", 2)
    assert running == DEP_VERSION
    assert Path(where) == installed / "_internal" / DEP / "__init__.pyc", where  # its own file, from v2's folder
    assert installed.joinpath("_internal", DEP, "table.pyc").is_file()
