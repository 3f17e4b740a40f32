"""Release signing keys: one folder of their own, never inside the update repository that is hosted.

The default folder is ``release-keys/`` in the user's configuration directory
(``platformdirs.user_config_dir("aurswift")``, e.g. ``~/.config/aurswift/release-keys``),
or ``AURSWIFT_RELEASE_KEYS``; ``build_release --keys DIR`` overrides both. See
docs/updates.md for why, and maintenance/updates/KEYS.md for production keys.

One PEM file per TUF role (``root.pem``, ``targets.pem``, ``snapshot.pem``,
``timestamp.pem``); development keys are created when the folder is new, the
folder ``0700`` and each file ``0600``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey

from maintenance.exceptions import MaintenanceError

ROLES = ("root", "targets", "snapshot", "timestamp")
PUBLISHING_ROLES = ("targets", "snapshot", "timestamp")  # the root key may stay offline
KEYS_ENV = "AURSWIFT_RELEASE_KEYS"

#: file names that are key material whatever they hold
KEY_SUFFIXES = {".pem", ".key", ".p8", ".pk8", ".p12", ".pfx", ".jks", ".keystore"}
KEY_NAMES = {"id_rsa", "id_ecdsa", "id_ed25519", "id_dsa"}
#: a PEM private key block (PKCS#8, PKCS#1, EC, OpenSSH, encrypted): header, base64 body, footer
PEM_PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s:,-]{16,}?-----END")
SNIFF_BYTES = 256 * 1024


class SigningKeysError(MaintenanceError):
    title = "Release not built"


def default_keys_dir() -> Path:
    """Return where release keys live unless ``--keys`` says otherwise."""
    override = os.environ.get(KEYS_ENV)
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_config_dir

    return Path(user_config_dir("aurswift", appauthor=False)) / "release-keys"


class Keyring:
    """The signing keys in one folder."""

    def __init__(self, folder: Path) -> None:
        self.dir = Path(folder)

    def path(self, role: str) -> Path:
        return self.dir / f"{role}.pem"

    def present(self) -> list[str]:
        return [role for role in ROLES if self.path(role).is_file()]

    def missing(self, roles: tuple[str, ...] = ROLES) -> list[str]:
        return [role for role in roles if not self.path(role).is_file()]

    def create_development_keys(self) -> list[str]:
        """Create an ed25519 key for each role that has none; return the roles created.

        Each file is written under a temporary name and linked into place, so
        two builds starting at once never overwrite each other's key and a
        crash never leaves half a key.
        """
        new = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if new:
            self.dir.chmod(0o700)
        created = []
        for role in self.missing():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{role}.", suffix=".tmp")  # created 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o600)
                try:
                    os.link(tmp, self.path(role))
                    created.append(role)
                except FileExistsError:
                    pass  # another build made this role's key a moment ago: use that one
            finally:
                os.unlink(tmp)
        return created

    def signer(self, role: str) -> CryptoSigner:
        path = self.path(role)
        try:
            pem = path.read_bytes()
        except FileNotFoundError as err:
            raise SigningKeysError(f"The {role} signing key is missing: {path} does not exist.") from err
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as err:
            raise SigningKeysError(f"{path} is not a usable {role} signing key ({err}).") from err
        return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))

    def key_bytes(self) -> set[bytes]:
        return {self.path(role).read_bytes() for role in self.present()}

    def loose_permissions(self) -> list[Path]:
        """The folder or key files that other users of this machine could read."""
        paths = [self.dir, *(self.path(role) for role in self.present())]
        return [p for p in paths if p.exists() and p.stat().st_mode & 0o077]


def _is_within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def key_material(repo_dir: Path) -> list[Path]:
    """Return what in ``repo_dir`` looks like key material: a ``keys/`` folder, key files, PEM private keys.

    Release archives and content-addressed blobs (``targets/*.tar.gz``,
    ``targets/blobs/``) are the app's own tracked files and are not read.
    """
    found: list[Path] = []
    if not repo_dir.is_dir():
        return found
    blobs = repo_dir / "targets" / "blobs"
    for folder, dirnames, filenames in os.walk(repo_dir):
        here = Path(folder)
        for name in dirnames:
            if name.lower() in {"keys", ".keys"}:
                found.append(here / name)
        if here == blobs or blobs in here.parents:
            continue
        for name in filenames:
            path = here / name
            lower = name.lower()
            named_as_key = Path(lower).suffix in KEY_SUFFIXES or lower in KEY_NAMES
            if named_as_key or (not lower.endswith(".tar.gz") and _holds_private_key(path)):
                found.append(path)
    return sorted(set(found))


def _holds_private_key(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    return bool(PEM_PRIVATE.search(head))


def refuse_key_material(repo_dir: Path, keys_dir: Path) -> None:
    """Raise SigningKeysError (nothing published) if the hosted folder holds keys or would receive them."""
    if _is_within(keys_dir, repo_dir):
        raise SigningKeysError(
            f"The signing keys folder {keys_dir} is inside the update repository {repo_dir}, which is hosted "
            "for every client to download. Nothing was published. Choose a --keys folder outside it."
        )
    legacy = repo_dir / "keys"
    if legacy.is_dir():
        raise SigningKeysError(_legacy_message(repo_dir, legacy))
    found = key_material(repo_dir)
    if found:
        listed = ", ".join(str(p.relative_to(repo_dir)) for p in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise SigningKeysError(
            f"The update repository {repo_dir} holds key material ({listed}{more}). It is the folder that is "
            f"hosted, so anyone could download it. Nothing was published. Move it out of {repo_dir} "
            f"(signing keys belong in the --keys folder, default {default_keys_dir()}), then build again."
        )


def _legacy_message(repo_dir: Path, legacy: Path) -> str:
    target = default_keys_dir()
    if target.exists() and any(target.iterdir()):  # keys of another repository are already there
        target = target.parent / f"release-keys-{repo_dir.name}"
        how = f'mv "{legacy}" "{target}", then build with --keys "{target}"'
    else:
        how = f'mkdir -p "{target.parent}" && mv "{legacy}" "{target}"'
    return (
        f"{legacy} holds signing keys inside the update repository, the folder that is hosted: "
        f"nothing was published and nothing was moved. Move the keys out yourself: {how} "
        f'(then chmod 700 "{target}"). If this folder was ever served, anyone may have copied the keys: '
        "for releases that other shops install, make new keys (maintenance/updates/KEYS.md)."
    )
