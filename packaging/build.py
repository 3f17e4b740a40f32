"""Build AurSwift's frozen bundle (PyInstaller, onedir) and its first-install archive.

Usage (from the repository, with the project's virtualenv and its ``bundle`` extra)::

    .venv/bin/python packaging/build.py --dist DIR [--archive-dir DIR] [--version X.Y.Z]
                                         [--trusted-root FILE] [--work DIR] [--no-archive]

Writes ``DIR/aurswift/`` (the bundle: run ``DIR/aurswift/aurswift``) and, unless
``--no-archive``, ``aurswift-X.Y.Z-<platform>.tar.gz`` (the bundle's contents at
the top level: extract into an empty folder, run ``./aurswift``) into
``--archive-dir`` (default: ``DIR``). Prints one JSON object with the paths,
sizes and build time. docs/bundles.md describes the layout.

Each bundle records the versions of the packages it carries in
``_internal/versions.json`` (``bundled_versions``): release notes list what
changed from one release to the next (``maintenance/updates/release.py``).

The app's own files are staged first (``app_files``: what git sees in the
working tree under the app folders, with the version stamped and the trusted
update root added when given), so a release build ships exactly its files.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
SPEC = PACKAGING / "aurswift.spec"
STABLE_SPEC = PACKAGING / "stable.spec"
# The app's own files: shipped as source in <bundle>/_internal/app/ (paths relative to the repository).
APP_PACKAGES = ("aurswift", "pos", "maintenance")
APP_FOLDERS = (*APP_PACKAGES, "templates", "static")
APP_SCRIPTS = ("launcher.py", "manage.py", "aurswift_stable.py")  # the last: what aurswift-launcher is frozen from
VERSION_FILE = "aurswift/__init__.py"
TRUSTED_ROOT = "maintenance/updates/trusted_root.json"
VERSION_RE = re.compile(r'^__version__ = "([^"]+)"', re.MULTILINE)
SKIP_SUFFIXES = (".pyc", ".pyo")
VERSIONS_FILE = "versions.json"  # in the bundle's resources folder (_internal/)


def _load_versioning():
    """Load ``maintenance/updates/versioning.py`` by path: one platform rule for the bundle and the client.

    By path, not by import: this script runs without Django and without the project on ``sys.path``.
    """
    spec = importlib.util.spec_from_file_location("_aurswift_versioning", ROOT / "maintenance/updates/versioning.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


platform_tag = _load_versioning().platform_tag


def source_version(project: Path = ROOT) -> str:
    match = VERSION_RE.search((project / VERSION_FILE).read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"no __version__ in {VERSION_FILE}")
    return match.group(1)


def app_files(project: Path = ROOT) -> list[str]:
    """Return the app's own files (relative, sorted): tracked or new-but-not-ignored, as git sees them."""
    try:
        out = subprocess.run(
            ["git", "-C", str(project), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"]
            + list(APP_FOLDERS),
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = {name for name in out.split("\0") if name}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked source release)
        names = {
            path.relative_to(project).as_posix()
            for folder in APP_FOLDERS
            for path in (project / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
    names |= {name for name in APP_SCRIPTS if (project / name).is_file()}
    wanted = (name for name in names if not name.endswith(SKIP_SUFFIXES) and name != TRUSTED_ROOT)
    return sorted(name for name in wanted if (project / name).is_file())


def stage_app(into: Path, project: Path = ROOT, version: str | None = None, trusted_root: Path | None = None) -> Path:
    """Copy the app's own files into ``into`` (emptied first), stamping ``version``; return ``into``."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for name in app_files(project):
        dest = into / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, dest)
    if version:
        init = into / VERSION_FILE
        init.write_text(VERSION_RE.sub(f'__version__ = "{version}"', init.read_text(encoding="utf-8")), "utf-8")
    root = trusted_root or (project / TRUSTED_ROOT)
    if root.is_file():
        shutil.copyfile(root, into / TRUSTED_ROOT)
    return into


def folder_size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
    return total


def resources_dir(bundle: Path) -> Path:
    """The bundle's resources folder (``sys._MEIPASS``): ``_internal/`` beside the executable."""
    inner = bundle / "_internal"
    return inner if inner.is_dir() else bundle


def bundled_versions(bundle: Path) -> dict:
    """Return ``{"python": X.Y.Z, "packages": {distribution: version}}`` for the packages inside ``bundle``.

    A distribution counts when one of its top-level modules is in the resources folder
    (a package folder, a module, or an extension module); the build's virtualenv says which version.
    """
    resources = resources_dir(bundle)
    present = {item.name.split(".", 1)[0] for item in resources.iterdir()} if resources.is_dir() else set()
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        tops = {
            str(file).replace("\\", "/").split("/", 1)[0].split(".", 1)[0]
            for file in (dist.files or [])
            if not str(file).startswith("..") and ".dist-info" not in str(file)
        }
        if tops & present:
            packages[dist.metadata["Name"]] = dist.version
    return {"python": platform.python_version(), "packages": dict(sorted(packages.items(), key=lambda i: i[0].lower()))}


def distribution_modules(dist: importlib.metadata.Distribution) -> set[str]:
    """Return the importable top-level modules and packages a distribution installs.

    ``top_level.txt`` when the distribution has one, else the first part of each file it lists
    (``pkg/…`` or ``module.py``); never its metadata folder, scripts outside site-packages or caches.
    """
    listed = dist.read_text("top_level.txt")
    if listed:
        names = {line.strip().replace("/", ".").split(".", 1)[0] for line in listed.splitlines()}
    else:
        names = set()
        for file in dist.files or []:
            parts = str(file).replace("\\", "/").split("/")
            if parts[0] in ("..", "") or parts[0].endswith((".dist-info", ".egg-info", ".data")):
                continue
            if len(parts) > 1:
                names.add(parts[0])
            elif parts[0].endswith(".py"):
                names.add(parts[0][: -len(".py")])
    return {name for name in names if name.isidentifier() and name != "__pycache__"}


def collection_modes(py: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """PyInstaller's ``module_collection_mode`` for the bundle: every installed package as separate files.

    Every top-level module of every distribution ``importlib.metadata`` sees (the build's virtualenv, and
    anything on ``PYTHONPATH``) is collected as ``.pyc`` files in ``_internal/``; those in ``py`` (the
    app, and Django, whose migrations are fingerprinted from source) as ``.py`` source. Modes for
    modules the analysis does not collect are ignored by PyInstaller, so this names every package the
    bundle could carry: a dependency new to a release is a few new files, not a new executable.
    """
    modes: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        for name in distribution_modules(dist):
            modes[name] = "pyc"
    modes.update(dict.fromkeys(py, "py"))
    return dict(sorted(modes.items()))


def write_versions(bundle: Path) -> dict:
    """Write :func:`bundled_versions` into the bundle (``_internal/versions.json``); return it."""
    versions = bundled_versions(bundle)
    (resources_dir(bundle) / VERSIONS_FILE).write_text(json.dumps(versions, indent=1) + "\n", encoding="utf-8")
    return versions


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def write_archive(bundle: Path, target: Path, compress_level: int = 6) -> Path:
    """Write the bundle's contents (at the top level of the archive) as a reproducible .tar.gz."""
    tmp = target.with_name(target.name + ".partial")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compress_level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for item in sorted(bundle.iterdir()):
            tar.add(item, arcname=item.name, filter=_normalise)
    os.replace(tmp, target)
    return target


def build_stable_launcher(
    dist: Path, work: Path, entry: Path | None = None, quiet: bool = True, app_src: Path | None = None
) -> Path:
    """Freeze the stable launcher (packaging/stable.spec) into ``dist/aurswift-launcher``; return its path.

    ``app_src``: the staged app files (:func:`stage_app`) whose ``maintenance/`` and ``aurswift/`` it imports.
    """
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # reproducible: the same sources give the same launcher
    if app_src is not None:
        env["AURSWIFT_BUNDLE_APP_SRC"] = str(app_src)
        if entry is None and (app_src / "aurswift_stable.py").is_file():
            entry = app_src / "aurswift_stable.py"  # the staged copy: the bundle carries its launcher's source
    if entry is not None:
        env["AURSWIFT_STABLE_ENTRY"] = str(entry)
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN" if quiet else "INFO",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(STABLE_SPEC),
    ]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"PyInstaller failed ({proc.returncode}):\n{(proc.stdout or '')[-4000:]}{proc.stderr or ''}")
    return dist / ("aurswift-launcher.exe" if os.name == "nt" else "aurswift-launcher")


def build(
    dist: Path,
    *,
    work: Path | None = None,
    version: str | None = None,
    trusted_root: Path | None = None,
    archive_dir: Path | None = None,
    archive: bool = True,
    compress_level: int = 6,
    with_launcher: bool = True,
    project: Path = ROOT,
    quiet: bool = True,
) -> dict:
    """Build the bundle into ``dist/aurswift`` (and the archive); return what was built, with sizes and timings."""
    dist = dist.resolve()
    version = version or source_version(project)
    work = (work or Path(tempfile.mkdtemp(prefix="aurswift-build-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    app_src = stage_app(work / "app-src", project, version, trusted_root)
    scratch = work / "data"  # importing the settings at build time must not touch a real shop's data
    scratch.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "AURSWIFT_BUNDLE_APP_SRC": str(app_src),
        "AURSWIFT_DATA_DIR": str(scratch),
        "DJANGO_SETTINGS_MODULE": "aurswift.settings",
        "PYTHONHASHSEED": "0",
    }
    env.pop("DATABASE_URL", None)
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN" if quiet else "INFO",
        "--distpath",
        str(dist),
        "--workpath",
        str(work / "pyinstaller"),
        str(SPEC),
    ]
    proc = subprocess.run(command, cwd=project, env=env, capture_output=quiet, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"PyInstaller failed ({proc.returncode}):\n{(proc.stdout or '')[-4000:]}{proc.stderr or ''}")
    bundle = dist / "aurswift"
    if with_launcher:  # the stable launcher rides in the bundle: what the shortcut starts
        # Frozen from the app's files as staged but without the version stamp (the launcher imports the
        # aurswift package): a release that does not touch its sources ships the very same launcher.
        launcher_src = stage_app(work / "launcher-src", project)
        launcher = build_stable_launcher(work / "stable-dist", work / "stable-work", quiet=quiet, app_src=launcher_src)
        shutil.copy2(launcher, bundle / launcher.name)
    versions = write_versions(bundle)
    result: dict = {
        "version": version,
        "platform": platform_tag(),
        "python": versions["python"],
        "packages": versions["packages"],
        "bundle": str(bundle),
        "executable": str(bundle / ("aurswift.exe" if os.name == "nt" else "aurswift")),
        "bundle_bytes": folder_size(bundle),
        "bundle_files": sum(1 for p in bundle.rglob("*") if p.is_file()),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    if archive:
        started = time.monotonic()
        target_dir = (archive_dir or dist).resolve()
        target_dir.mkdir(parents=True, exist_ok=True)
        name = f"aurswift-{version}-{platform_tag()}.tar.gz"
        target = write_archive(bundle, target_dir / name, compress_level)
        result.update(
            archive=str(target),
            archive_bytes=target.stat().st_size,
            archive_seconds=round(time.monotonic() - started, 1),
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, required=True, help="folder to build into (DIST/aurswift/)")
    parser.add_argument("--work", type=Path, help="PyInstaller's work folder (default: a new temporary folder)")
    parser.add_argument("--version", help="version to stamp into the bundle (default: aurswift/__init__.py)")
    parser.add_argument("--trusted-root", type=Path, help="the update repository's root.json to ship")
    parser.add_argument("--archive-dir", type=Path, help="where to write the first-install archive (default: DIST)")
    parser.add_argument("--no-archive", action="store_true", help="build the bundle only")
    parser.add_argument(
        "--compress-level", type=int, default=6, help="gzip level of the archive (6: default; 1: 3× faster, +9%%)"
    )
    parser.add_argument(
        "--no-launcher",
        action="store_true",
        help="leave the stable launcher (stable.spec, frozen into the bundle by default) out",
    )
    parser.add_argument("--verbose", action="store_true", help="show PyInstaller's output")
    args = parser.parse_args(argv)
    result = build(
        args.dist,
        work=args.work,
        version=args.version,
        trusted_root=args.trusted_root,
        archive_dir=args.archive_dir,
        archive=not args.no_archive,
        compress_level=args.compress_level,
        with_launcher=not args.no_launcher,
        quiet=not args.verbose,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
