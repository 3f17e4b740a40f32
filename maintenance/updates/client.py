"""The update client: trust only the root metadata that ships with the app (python-tuf ngclient).

python-tuf refuses tampered, truncated, wrongly signed, expired (freeze) and
rolled-back *metadata*; on top of that an offered release older than the
installed one is refused here (a signed but stale "latest").

Where the repository publishes a manifest of the release's files, only the
files whose content differs from the installed copy are downloaded (each one a
signed target, verified by python-tuf); the rest are copied from the running
version after checking their sha256. Otherwise the whole archive is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse
from urllib.request import url2pathname

import urllib3
from django.conf import settings
from packaging.version import Version
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import Updater
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from maintenance.config import app_version, updates_dir
from maintenance.exceptions import MaintenanceError
from maintenance.updates import install
from maintenance.updates.repository import LATEST


class UpdateError(MaintenanceError):
    exit_code = 2
    title = "Update refused"


@dataclass
class UpdateOffer:
    installed: str
    version: str
    archive: str
    notes: str
    size: int  # bytes this client will download
    manifest: str = ""  # the release's signed file list, when only changed files are downloaded
    changed_files: int | None = None  # how many files that is (None: the whole archive)
    skipped_versions: list[str] = field(default_factory=list)  # newer, but failed to install here: never offered

    @property
    def newer(self) -> bool:
        """True when the repository offers a release to install: newer, and not one that failed here."""
        return Version(self.version) > Version(self.installed) and not self.failed_here

    @property
    def failed_here(self) -> bool:
        """True when the repository's newest release is one that failed to install on this machine."""
        return any(_same_version(self.version, skipped) for skipped in self.skipped_versions)

    def skipped_reason(self) -> str:
        """The line to print when the newest release is skipped ("" when it is not)."""
        if not self.failed_here:
            return ""
        return f"Update {self.version} could not be installed on this machine earlier; it will not be offered again."

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "update_available": self.newer, "failed_here": self.failed_here}


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except ValueError:
        return a == b


def skipped_versions(installed: str, data_dir: Path | None = None) -> list[str]:
    """Versions newer than ``installed`` that failed to install on this machine, oldest first."""
    newer = []
    for entry in install.failed_versions(data_dir or settings.DATA_DIR):
        try:
            if Version(entry["version"]) > Version(installed):
                newer.append(entry["version"])
        except ValueError:
            continue  # not a release version (a hand-edited file): nothing to skip
    return sorted(set(newer), key=Version)


class ProgressFetcher(Urllib3Fetcher):
    """urllib3 fetcher that reports downloaded bytes (ngclient has no progress hook)."""

    def __init__(self, progress: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.progress = progress
        self.downloaded = 0  # release bytes (archive or changed files) fetched so far, across files

    def _fetch(self, url: str) -> Iterator[bytes]:
        counted = "/targets/" in url and not url.endswith(".json")
        done = 0
        try:
            chunks = _local_file(url) if url.startswith("file:") else super()._fetch(url)
            for chunk in chunks:
                done += len(chunk)
                if counted:
                    self.downloaded += len(chunk)
                    if self.progress:
                        self.progress(self.downloaded)
                yield chunk
        except urllib3.exceptions.HTTPError as err:
            # e.g. the server went away mid-download: a clean failure; the next try starts afresh
            raise tuf_errors.DownloadError(f"the connection broke after {done} bytes ({err})") from err


def _local_file(url: str) -> Iterator[bytes]:
    """A repository on a local or mounted folder (``file://``), e.g. a USB stick in a shop without internet."""
    path = Path(url2pathname(urlparse(url).path))
    try:
        handle = path.open("rb")
    except FileNotFoundError as err:  # like HTTP 404: ngclient stops looking for newer root versions here
        raise tuf_errors.DownloadHTTPError(f"{path} does not exist", 404) from err
    with handle:
        while chunk := handle.read(64 * 1024):
            yield chunk


@dataclass
class DeltaPlan:
    """Which of a release's files the installed copy already has (by sha256), and which to download."""

    folder: str
    files: dict[str, dict]
    download: list[str] = field(default_factory=list)

    @property
    def download_bytes(self) -> int:
        return sum(int(self.files[name]["length"]) for name in self.download)


def trusted_root() -> bytes:
    path = Path(settings.AURSWIFT_UPDATE_TRUSTED_ROOT or settings.BASE_DIR / "maintenance/updates/trusted_root.json")
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise UpdateError(f"This installation has no trusted update key ({path}); updates are disabled.") from err


def _updater(url: str, progress: Callable[[int], None] | None = None) -> Updater:
    if not url:
        raise UpdateError("No update server is configured (AURSWIFT_UPDATE_URL).")
    base = url.rstrip("/") + "/"
    meta_dir = updates_dir(settings.DATA_DIR) / "metadata"
    meta_dir.mkdir(parents=True, exist_ok=True)
    downloads = updates_dir(settings.DATA_DIR) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    return Updater(
        metadata_dir=str(meta_dir),
        metadata_base_url=base + "metadata/",
        target_base_url=base + "targets/",
        target_dir=str(downloads),
        fetcher=ProgressFetcher(progress),
        bootstrap=trusted_root(),
    )


def _explain(err: Exception) -> str:
    if isinstance(err, tuf_errors.ExpiredMetadataError):
        return f"the update information has expired ({err}); the server may be stale or replaying old data"
    if isinstance(err, tuf_errors.UnsignedMetadataError):
        return f"the update information is not signed by the trusted keys ({err})"
    if isinstance(err, tuf_errors.BadVersionNumberError):
        return f"the update information is older than what this app has already seen ({err})"
    if isinstance(err, tuf_errors.LengthOrHashMismatchError | tuf_errors.DownloadLengthMismatchError):
        return f"the download does not match its signed description: tampered or truncated ({err})"
    if isinstance(err, tuf_errors.DownloadError):
        return f"the update server could not be reached or stopped answering ({err})"
    return str(err)


def check(url: str | None = None, installed: str | None = None, data_dir: Path | None = None) -> UpdateOffer:
    """Return what the repository offers; raise UpdateError if it cannot be fetched or trusted.

    A release that failed to install on this machine is listed in ``skipped_versions``
    and not offered (``offer.newer`` is False).
    """
    installed = installed or app_version()
    try:
        updater = _updater(url if url is not None else settings.AURSWIFT_UPDATE_URL)
        updater.refresh()
        info = updater.get_targetinfo(LATEST)
        if info is None:
            raise UpdateError("The update server lists no release.")
        latest = json.loads(Path(updater.download_target(info)).read_text(encoding="utf-8"))
        archive = updater.get_targetinfo(latest["archive"])
        if archive is None:
            raise UpdateError(f"The release archive {latest['archive']} is not in the signed list.")
    except UpdateError:
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, ValueError, KeyError) as err:
        raise UpdateError(f"Update check failed: {_explain(err)}.") from err
    offer = UpdateOffer(installed, latest["version"], latest["archive"], latest.get("notes", ""), archive.length)
    try:
        offer.skipped_versions = skipped_versions(installed, data_dir)
    except OSError as err:
        raise UpdateError(f"Update check failed: the list of failed updates cannot be read ({err}).") from err
    if Version(offer.version) < Version(installed):
        raise UpdateError(
            f"Refused: the server offers {offer.version}, older than the installed {installed} (rollback)."
        )
    if offer.newer and latest.get("manifest") and settings.AURSWIFT_UPDATE_DELTA:
        try:
            plan = _delta_plan(updater, latest["manifest"])
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, ValueError, KeyError) as err:
            raise UpdateError(f"Update check failed: {_explain(err)}.") from err
        if plan.download_bytes < archive.length:  # uncompressed changed files beat the compressed archive
            offer.manifest, offer.size = latest["manifest"], plan.download_bytes
            offer.changed_files = len(plan.download)
    return offer


def _release_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or ".." in path.parts:
        raise UpdateError(f"Refused: the release lists a file outside its folder ({name!r}).")
    return path


def _delta_plan(updater: Updater, manifest_name: str) -> DeltaPlan:
    """Read the signed manifest and compare it with the running version's files."""
    info = updater.get_targetinfo(manifest_name)
    if info is None:
        raise UpdateError(f"The release manifest {manifest_name} is not in the signed list.")
    manifest = json.loads(Path(updater.find_cached_target(info) or updater.download_target(info)).read_bytes())
    plan = DeltaPlan(str(_release_path(manifest["folder"])), manifest["files"])
    for name, entry in plan.files.items():
        local = settings.BASE_DIR / _release_path(name)
        if not (local.is_file() and hashlib.sha256(local.read_bytes()).hexdigest() == entry["sha256"]):
            plan.download.append(name)
    return plan


def _assemble(updater: Updater, plan: DeltaPlan, into: Path) -> None:
    """Write the release into ``into``: unchanged files from the running version, the rest downloaded."""
    for name, entry in plan.files.items():
        relative = _release_path(name)
        data = b""
        if name not in plan.download:
            data = (settings.BASE_DIR / relative).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:  # to download, or changed since the check
            info = updater.get_targetinfo(f"blobs/{entry['sha256']}")
            if info is None:
                raise UpdateError(f"{name} of the release is not in the signed list.")
            data = Path(updater.find_cached_target(info) or updater.download_target(info)).read_bytes()
        dest = into / plan.folder / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        os.chmod(dest, int(entry["mode"]) & 0o755)


def stage(offer: UpdateOffer, progress: Callable[[int], None] | None = None) -> Path:
    """Download and verify the offered release, then unpack it into updates/staged/<version>/."""
    staged_root = updates_dir(settings.DATA_DIR) / "staged"
    target = staged_root / offer.version
    tmp = staged_root / f".{offer.version}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        updater = _updater(settings.AURSWIFT_UPDATE_URL, progress)
        updater.refresh()
        if offer.manifest:
            _assemble(updater, _delta_plan(updater, offer.manifest), tmp)
        else:
            info = updater.get_targetinfo(offer.archive)
            if info is None:
                raise UpdateError(f"{offer.archive} is not in the signed list.")
            archive = updater.find_cached_target(info) or updater.download_target(info)
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
    except UpdateError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, ValueError, KeyError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UpdateError(f"Download refused: {_explain(err)}. Nothing was installed.") from err
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "staged.json").write_text(json.dumps(offer.as_dict(), indent=2), encoding="utf-8")
    tmp.rename(target)
    return target
