"""The update repository on the release side: a folder any static web server can host.

Layout: ``metadata/`` (TUF root, targets, snapshot, timestamp — signed with
python-tuf's Metadata API), ``targets/`` (release archives, ``latest.json``,
``manifests/`` listing each release's files by sha256, and ``blobs/<sha256>``
holding each file once). Every archive, manifest and blob is a signed target,
so a client can fetch only the files that changed and still verify each one.

Frozen bundles are published per platform (:meth:`UpdateRepository.publish_bundle`):
``latest-<platform>.json``, ``manifests/aurswift-X.Y.Z-<platform>.json`` and the
first-install archive ``aurswift-X.Y.Z-<platform>.tar.gz`` are signed targets;
the bundle's files are ``blobs/<sha256>`` too, but are *not* listed one by one
in ``targets.json`` (thousands per release, on every platform): each blob's
length and sha256 come from its signed manifest, and the client has python-tuf
check them exactly as for a listed target.

The signing keys are *not* in this folder: they live in a separate keys folder
(:mod:`maintenance.updates.keys`), and every write refuses a repository folder
that holds key material, since this folder is what gets hosted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from maintenance.updates.keys import PUBLISHING_ROLES, ROLES, Keyring, SigningKeysError, refuse_key_material

EXPIRY = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}
LATEST = "latest.json"


def latest_name(platform: str = "") -> str:
    """``latest-<platform>.json`` (a platform's bundles), or ``latest.json`` (platform-independent source)."""
    return f"latest-{platform}.json" if platform else LATEST


def manifest_name(version: str, platform: str = "") -> str:
    return f"manifests/aurswift-{version}-{platform}.json" if platform else f"manifests/aurswift-{version}.json"


def blob_name(sha256: str) -> str:
    return f"blobs/{sha256}"


def bundle_archive_name(version: str, platform: str) -> str:
    """The first-install archive: the bundle's files at the top level (extract anywhere, run ./aurswift)."""
    return f"aurswift-{version}-{platform}.tar.gz"


def hash_file(path: Path) -> tuple[str, int]:
    """Return (sha256, length) of a file, read in chunks: a bundle holds files of 200 MB."""
    digest, length = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            length += len(chunk)
    return digest.hexdigest(), length


def bundle_manifest(bundle: Path) -> dict[str, dict]:
    """Every file of a bundle folder by relative path: ``{sha256, length, mode}``, or ``{link}`` for a symlink."""
    files: dict[str, dict] = {}
    for folder, dirs, names in os.walk(bundle):
        here = Path(folder)
        for name in sorted(dirs + names):
            path = here / name
            relative = path.relative_to(bundle).as_posix()
            if path.is_symlink():
                files[relative] = {"link": os.readlink(path)}
            elif path.is_file():
                sha, length = hash_file(path)
                files[relative] = {"sha256": sha, "length": length, "mode": stat.S_IMODE(path.stat().st_mode)}
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class ReleaseFile:
    name: str  # path inside the release folder, with "/"
    data: bytes
    mode: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class UpdateRepository:
    def __init__(self, root_dir: Path, keys_dir: Path) -> None:
        self.dir = root_dir
        self.metadata_dir = root_dir / "metadata"
        self.targets_dir = root_dir / "targets"
        self.keys = Keyring(keys_dir)

    # --- keys ----------------------------------------------------------------
    def refuse_key_material(self) -> None:
        """Raise SigningKeysError if this (hosted) folder holds keys or the keys folder is inside it."""
        refuse_key_material(self.dir, self.keys.dir)

    def _signer(self, role: str) -> CryptoSigner:
        signer = self.keys.signer(role)
        if role != "root" and self.exists():
            trusted = self.load("root").signed.roles[role].keyids
            if signer.public_key.keyid not in trusted:
                raise SigningKeysError(
                    f"{self.keys.path(role)} is not the {role} key of the repository {self.dir} "
                    "(its root metadata trusts another key): clients would refuse what it signs. "
                    "Pass --keys with the folder that holds this repository's keys."
                )
        return signer

    def check_signing_keys(self) -> None:
        """Raise SigningKeysError unless the keys can sign this existing repository (root may stay offline)."""
        self.refuse_key_material()
        for role in PUBLISHING_ROLES:
            self._signer(role)

    # --- metadata ------------------------------------------------------------
    def exists(self) -> bool:
        return (self.metadata_dir / "root.json").exists()

    def _write(self, md: Metadata, name: str) -> None:
        md.sign(self._signer(md.signed.type), append=False)
        data = md.to_bytes(JSONSerializer(compact=False))
        (self.metadata_dir / f"{name}.json").write_bytes(data)
        if md.signed.type == "root":
            (self.metadata_dir / f"{md.signed.version}.root.json").write_bytes(data)

    def load(self, role: str) -> Metadata:
        return Metadata.from_file(str(self.metadata_dir / f"{role}.json"))

    def initialise(self) -> None:
        """Create the folders and first metadata of a new repository (and development keys if there are none)."""
        self.refuse_key_material()
        if not self.keys.present():
            self.keys.create_development_keys()
        missing = self.keys.missing()
        if missing:
            raise SigningKeysError(
                f"A new repository needs a key for every role; {self.keys.dir} has none for {', '.join(missing)}."
            )
        for folder in (self.metadata_dir, self.targets_dir):
            folder.mkdir(parents=True, exist_ok=True)
        root = Root(expires=_now() + timedelta(days=EXPIRY["root"]), consistent_snapshot=False)
        for role in ROLES:
            root.add_key(self._signer(role).public_key, role)
        self._write(Metadata(root), "root")
        self._write(Metadata(Targets(expires=_now() + timedelta(days=EXPIRY["targets"]))), "targets")
        self._write(Metadata(Snapshot(expires=_now() + timedelta(days=EXPIRY["snapshot"]))), "snapshot")
        self._write(Metadata(Timestamp(expires=_now() + timedelta(days=EXPIRY["timestamp"]))), "timestamp")

    def publish(self, archive: Path, version: str, notes: str, files: list[ReleaseFile] | None = None) -> None:
        """Add a release and make it the newest, re-signing targets, snapshot and timestamp.

        With ``files``, also publish its manifest and one blob per file content,
        so clients can download only what changed since their version.
        """
        self.check_signing_keys()
        target = self.targets_dir / archive.name
        if archive.resolve() != target.resolve():
            target.write_bytes(archive.read_bytes())
        names = [archive.name, LATEST]
        latest = {"version": version, "archive": archive.name, "notes": notes, "published_at": _now().isoformat()}
        if files is not None:
            latest["manifest"] = self._write_manifest(version, files)
            names += [latest["manifest"], *(f"blobs/{file.sha256}" for file in files)]
        (self.targets_dir / LATEST).write_text(json.dumps(latest, indent=2), encoding="utf-8")
        targets = self.load("targets")
        for name in names:
            targets.signed.targets[name] = TargetFile.from_file(name, str(self.targets_dir / name), ["sha256"])
        self.resign(targets=targets)

    def _write_manifest(self, version: str, files: list[ReleaseFile]) -> str:
        (self.targets_dir / "blobs").mkdir(parents=True, exist_ok=True)
        for file in files:
            blob = self.targets_dir / "blobs" / file.sha256
            if not blob.exists():
                blob.write_bytes(file.data)
        name = f"manifests/aurswift-{version}.json"
        manifest = {
            "version": version,
            "folder": f"aurswift-{version}",
            "files": {f.name: {"sha256": f.sha256, "length": len(f.data), "mode": f.mode} for f in files},
        }
        (self.targets_dir / "manifests").mkdir(parents=True, exist_ok=True)
        (self.targets_dir / name).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        return name

    def publish_bundle(
        self,
        bundle: Path,
        archive: Path,
        version: str,
        notes: str,
        platform: str,
        *,
        extra: dict | None = None,
    ) -> dict:
        """Publish a frozen bundle for ``platform``: blobs, signed manifest, first-install archive, latest.

        Returns what was written into ``latest-<platform>.json`` (with ``new_blobs``/``new_blob_bytes``
        added: how much this release added to the repository).
        """
        self.check_signing_keys()
        files = bundle_manifest(bundle)
        blobs = self.targets_dir / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        new_blobs = new_bytes = 0
        for name, entry in files.items():
            if "link" in entry:
                continue
            blob = self.targets_dir / blob_name(entry["sha256"])
            if blob.exists() and blob.stat().st_size == entry["length"]:
                continue
            tmp = blob.with_name(f".{blob.name}.tmp")
            shutil.copyfile(bundle / name, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, blob)
            new_blobs, new_bytes = new_blobs + 1, new_bytes + entry["length"]
        archive_name = bundle_archive_name(version, platform)
        target = self.targets_dir / archive_name
        if archive.resolve() != target.resolve():
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(archive, tmp)
            os.replace(tmp, target)
        manifest = manifest_name(version, platform)
        (self.targets_dir / "manifests").mkdir(parents=True, exist_ok=True)
        document = {
            "version": version,
            "platform": platform,
            "kind": "bundle",
            "folder": f"aurswift-{version}",
            "files": files,
        }
        (self.targets_dir / manifest).write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
        latest = {
            "version": version,
            "platform": platform,
            "kind": "bundle",
            "archive": archive_name,
            "manifest": manifest,
            "notes": notes,
            "published_at": _now().isoformat(),
            "bundle_files": sum(1 for entry in files.values() if "link" not in entry),
            "bundle_bytes": sum(entry.get("length", 0) for entry in files.values()),
            **(extra or {}),
        }
        name = latest_name(platform)
        (self.targets_dir / name).write_text(json.dumps(latest, indent=2), encoding="utf-8")
        targets = self.load("targets")
        for signed in (archive_name, manifest, name):
            targets.signed.targets[signed] = TargetFile.from_file(signed, str(self.targets_dir / signed), ["sha256"])
        self.resign(targets=targets)
        return {**latest, "new_blobs": new_blobs, "new_blob_bytes": new_bytes}

    def latest(self, platform: str = "") -> dict:
        """What ``latest[-<platform>].json`` says now ({} when nothing was published for it)."""
        try:
            return json.loads((self.targets_dir / latest_name(platform)).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def resign(self, *, targets: Metadata | None = None, timestamp_expires: datetime | None = None) -> None:
        """Bump and sign targets (if given), snapshot and timestamp."""
        self.check_signing_keys()
        snapshot, timestamp = self.load("snapshot"), self.load("timestamp")
        if targets is not None:
            targets.signed.version += 1
            targets.signed.expires = _now() + timedelta(days=EXPIRY["targets"])
            self._write(targets, "targets")
            snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        snapshot.signed.version += 1
        snapshot.signed.expires = _now() + timedelta(days=EXPIRY["snapshot"])
        self._write(snapshot, "snapshot")
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.signed.version += 1
        timestamp.signed.expires = timestamp_expires or _now() + timedelta(days=EXPIRY["timestamp"])
        self._write(timestamp, "timestamp")
