"""Turn the working tree into the next release inside an update repository."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from maintenance.exceptions import MaintenanceError
from maintenance.updates.keys import PUBLISHING_ROLES, SigningKeysError, default_keys_dir
from maintenance.updates.repository import ReleaseFile, UpdateRepository, hash_file
from maintenance.updates.versioning import dependency_notes, next_version, release_notes

VERSION_FILE = "aurswift/__init__.py"
TRUSTED_ROOT = "maintenance/updates/trusted_root.json"
VERSION_RE = re.compile(r'^__version__ = "([^"]+)"', re.MULTILINE)


class ReleaseError(MaintenanceError):
    title = "Release not built"


@dataclass(frozen=True)
class Release:
    version: str
    archive: Path
    notes: str
    keys_dir: Path | None = None
    created_keys: list[str] = field(default_factory=list)  # development keys made for this build
    loose_permissions: list[Path] = field(default_factory=list)  # key files other users could read
    platform: str = ""  # a bundle release: the platform it was built for and published under
    published: dict = field(default_factory=dict)  # a bundle release: what latest-<platform>.json says, and more


def _git(project: Path, *args: str) -> str:
    env = dict(os.environ)
    configured = subprocess.run(["git", "-C", str(project), "config", "user.email"], capture_output=True, check=False)
    if not configured.stdout.strip():
        # An annotated tag needs a committer; a build machine may have none configured.
        env.setdefault("GIT_COMMITTER_NAME", "AurSwift release")
        env.setdefault("GIT_COMMITTER_EMAIL", "release@aurswift.invalid")
    proc = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def last_release_tag(project: Path) -> str | None:
    tags = _git(project, "tag", "--list", "v*", "--sort=-v:refname").split()
    return tags[0] if tags else None


def _release_files(project: Path, version: str, root_json: bytes) -> list[ReleaseFile]:
    """The release's files: every tracked file (every app's migrations included), stamped with ``version``."""
    files = []
    for name in sorted(f for f in _git(project, "ls-files", "-z").split("\0") if f):
        path = project / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if name == VERSION_FILE:
            data = VERSION_RE.sub(f'__version__ = "{version}"', data.decode()).encode()
        files.append(ReleaseFile(name, data, path.stat().st_mode & 0o777))
    files.append(ReleaseFile(TRUSTED_ROOT, root_json, 0o644))
    return files


def _archive(files: list[ReleaseFile], version: str, target: Path) -> None:
    """Write the release as one tar.gz: what a client without a usable installed copy downloads."""
    with tarfile.open(target, "w:gz") as tar:
        for file in files:
            _add(tar, f"aurswift-{version}/{file.name}", file.data, file.mode)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def open_repository(repo_dir: Path, keys_dir: Path | None = None) -> tuple[UpdateRepository, list[str]]:
    """Return the repository, ready to sign, and the development keys created for it (if DIR was new).

    Refuses (SigningKeysError, nothing written) when the repository folder holds
    key material or the keys folder is inside it, when an existing repository's
    keys are missing, or when they are not the keys its root metadata trusts.
    """
    repo = UpdateRepository(repo_dir, keys_dir or default_keys_dir())
    repo.refuse_key_material()
    created: list[str] = []
    if not repo.exists():
        if not repo.keys.present():
            created = repo.keys.create_development_keys()
        repo.initialise()
        return repo, created
    missing = repo.keys.missing(PUBLISHING_ROLES)
    if missing:
        raise SigningKeysError(
            f"The update repository {repo_dir} exists but {repo.keys.dir} holds no {', '.join(missing)} "
            "signing key for it. Nothing was published. Pass --keys with the folder that holds this "
            "repository's keys (docs/updates.md)."
        )
    repo.check_signing_keys()
    return repo, created


def load_build_module(project: Path) -> ModuleType:
    """Load ``packaging/build.py`` of ``project`` by file path (it is a script, not a package)."""
    path = project / "packaging" / "build.py"
    if not path.is_file():
        raise ReleaseError(f"{path} does not exist: this project cannot build a bundle.")
    spec = importlib.util.spec_from_file_location("aurswift_packaging_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _version_and_notes(project: Path, repo: UpdateRepository, platform: str = "") -> tuple[str, str, bool]:
    """Return (version, notes, tag it): the next version from commits since the last tag.

    A bundle for another platform of the version HEAD is already tagged with (built on that platform's
    machine from the same commit) publishes that version again, untagged.
    """
    tag = last_release_tag(project)
    if tag and platform:
        tagged = _git(project, "rev-list", "-n", "1", tag).strip()
        head = _git(project, "rev-parse", "HEAD").strip()
        if tagged == head and repo.latest(platform).get("version") != tag[1:]:
            previous = [t for t in _git(project, "tag", "--list", "v*", "--sort=-v:refname").split() if t != tag]
            since = f"{previous[0]}..{tag}" if previous else tag
            return tag[1:], release_notes(_git(project, "log", "--format=%B%x00", since).split("\0")), False
    if tag:
        base = tag[1:]
        messages = _git(project, "log", "--format=%B%x00", f"{tag}..HEAD").split("\0")
    else:
        match = VERSION_RE.search((project / VERSION_FILE).read_text(encoding="utf-8"))
        base = match.group(1) if match else "0.0.0"
        messages = _git(project, "log", "--format=%B%x00").split("\0")
    version = next_version(base, messages)
    if version is None:
        raise ReleaseError(f"No feat or fix commits since {tag or 'the first commit'}: nothing to release.")
    return version, release_notes(messages), True


def _refuse_shipped_keys(repo: UpdateRepository, named: dict[str, str]) -> None:
    """Refuse a release one of whose files (``{name: sha256}``) is a signing key."""
    secrets = {hashlib.sha256(data).hexdigest() for data in repo.keys.key_bytes()}
    shipped = sorted(name for name, sha in named.items() if sha in secrets)
    if shipped:
        raise ReleaseError(
            f"The release would ship a signing key ({', '.join(shipped)}): nothing was "
            "published. Remove it from the repository and make new keys (maintenance/updates/KEYS.md)."
        )


def build_bundle_release(
    project: Path,
    repo_dir: Path,
    keys_dir: Path | None = None,
    *,
    platform: str | None = None,
    prebuilt: dict | None = None,
    work: Path | None = None,
    compress_level: int = 6,
    tag: bool = True,
) -> Release:
    """Build the frozen bundle (packaging/build.py) for this platform and publish it in ``repo_dir``.

    Publishes the bundle's files as content-addressed blobs with a signed manifest, the first-install
    archive ``aurswift-X.Y.Z-<platform>.tar.gz`` and ``latest-<platform>.json``; the release notes add
    the bundled packages that changed since the platform's previous release. ``prebuilt`` (what
    packaging/build.py printed) publishes a bundle built already, of the version it carries (tests).
    """
    build_module = load_build_module(project)
    platform = platform or (prebuilt or {}).get("platform") or build_module.platform_tag()
    repo, created = open_repository(repo_dir, keys_dir)
    if prebuilt is not None:
        version, notes, tag = prebuilt["version"], "", False
    else:
        version, notes, tagged = _version_and_notes(project, repo, platform)
        tag = tag and tagged
    scratch = None
    try:
        if prebuilt is None:
            scratch = Path(tempfile.mkdtemp(prefix="aurswift-release-", dir=work))
            result = build_module.build(
                scratch / "dist",
                work=scratch / "work",
                version=version,
                trusted_root=repo.metadata_dir / "root.json",
                archive_dir=scratch,
                compress_level=compress_level,
                project=project,
            )
        else:
            result = prebuilt
        bundle, archive = Path(result["bundle"]), Path(result["archive"])
        versions = build_module.bundled_versions(bundle) if "packages" not in result else result
        previous = repo.latest(platform)
        changes = dependency_notes(previous.get("packages", {}), versions["packages"]) if previous else ""
        if previous and previous.get("python") and previous["python"] != versions["python"]:
            line = f"- Python {previous['python']} → {versions['python']}"
            changes = f"{changes}\n{line}" if changes else f"### Dependencies\n{line}"
        notes = "\n\n".join(part for part in (notes, changes) if part)
        app = build_module.resources_dir(bundle) / "app"
        _refuse_shipped_keys(
            repo,
            {p.relative_to(bundle).as_posix(): hash_file(p)[0] for p in app.rglob("*") if p.is_file()},
        )
        published = repo.publish_bundle(
            bundle,
            archive,
            version,
            notes,
            platform,
            extra={"python": versions["python"], "packages": versions["packages"]},
        )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if tag:
        _git(project, "tag", "-a", f"v{version}", "-m", f"AurSwift {version}\n\n{notes}")
    return Release(
        version,
        repo.targets_dir / published["archive"],
        notes,
        repo.keys.dir,
        created,
        repo.keys.loose_permissions(),
        platform,
        published,
    )


def build_release(project: Path, repo_dir: Path, keys_dir: Path | None = None, *, bundle: bool = False) -> Release:
    """Build the next release from conventional commits since the last ``vX.Y.Z`` tag, and tag it.

    ``keys_dir`` (default :func:`default_keys_dir`) holds the signing keys, never ``repo_dir``.
    Without ``bundle``: a platform-independent source release (``latest.json``); with it, the frozen
    bundle of the platform this runs on (:func:`build_bundle_release`).
    """
    if bundle:
        return build_bundle_release(project, repo_dir, keys_dir)
    repo, created = open_repository(repo_dir, keys_dir)
    version, notes, _tag = _version_and_notes(project, repo)
    files = _release_files(project, version, (repo.metadata_dir / "root.json").read_bytes())
    secrets = repo.keys.key_bytes()
    shipped = [file.name for file in files if file.data in secrets]
    if shipped:
        raise ReleaseError(
            f"The release would ship a signing key ({', '.join(shipped)} is tracked by git): nothing was "
            "published. Remove it from the repository and make new keys (maintenance/updates/KEYS.md)."
        )
    archive = repo.targets_dir / f"aurswift-{version}.tar.gz"
    _archive(files, version, archive)
    repo.publish(archive, version, notes, files=files)
    _git(project, "tag", "-a", f"v{version}", "-m", f"AurSwift {version}\n\n{notes}")
    return Release(version, archive, notes, repo.keys.dir, created, repo.keys.loose_permissions())
