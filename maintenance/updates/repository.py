"""The update repository on the release side: a folder any static web server can host.

Layout: ``metadata/`` (TUF root, targets, snapshot, timestamp — signed with
python-tuf's Metadata API), ``targets/`` (release archives, ``latest.json``,
``manifests/`` listing each release's files by sha256, and ``blobs/<sha256>``
holding each file once), ``keys/`` (development keys; keep production keys
offline, see maintenance/updates/KEYS.md). Every archive, manifest and blob is
a signed target, so a client can fetch only the files that changed and still
verify each one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "targets", "snapshot", "timestamp")
EXPIRY = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}
LATEST = "latest.json"


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
    def __init__(self, root_dir: Path) -> None:
        self.dir = root_dir
        self.metadata_dir = root_dir / "metadata"
        self.targets_dir = root_dir / "targets"
        self.keys_dir = root_dir / "keys"

    # --- keys ----------------------------------------------------------------
    def _signer(self, role: str) -> CryptoSigner:
        pem = (self.keys_dir / f"{role}.pem").read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))

    def _create_key(self, role: str) -> None:
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = self.keys_dir / f"{role}.pem"
        path.write_bytes(pem)
        path.chmod(0o600)

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
        """Create the folders, development keys and first metadata of a new repository."""
        for folder in (self.metadata_dir, self.targets_dir, self.keys_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for role in ROLES:
            self._create_key(role)
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

    def resign(self, *, targets: Metadata | None = None, timestamp_expires: datetime | None = None) -> None:
        """Bump and sign targets (if given), snapshot and timestamp."""
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
