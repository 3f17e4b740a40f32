"""The update client: trust only the root metadata that ships with the app (python-tuf ngclient).

python-tuf refuses tampered, truncated, wrongly signed, expired (freeze) and
rolled-back *metadata*; on top of that an offered release older than the
installed one is refused here (a signed but stale "latest").

Where the repository publishes a manifest of the release's files, only the
files whose content differs from the installed copy are downloaded (each one
verified by python-tuf against the length and sha256 the signed manifest gives);
the rest are copied from the running version after checking their sha256.
Otherwise the whole archive is downloaded.

Releases are per platform: the client asks for ``latest-<platform>.json``
(:func:`client_platform`) and never for another platform's files; a source
checkout also takes a platform-independent source release (``latest.json``).
Frozen, the files compared are the bundle's (:func:`aurswift.paths.bundle_root`).

Downloads resume: :class:`ResumableFetcher` keeps each release file being
downloaded under ``<data>/updates/partial/<sha256>.part`` (with its expected
length and hash beside it) and continues with an HTTP ``Range`` request after a
broken connection or a restart; python-tuf checks the whole file's length and
hash before it is used. A server that ignores ranges (200) is read from the start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import urlparse
from urllib.request import url2pathname

import tuf
import urllib3
from django.conf import settings
from packaging.version import Version
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from aurswift.paths import bundle_root, is_frozen
from maintenance.config import app_version, updates_dir
from maintenance.db import testhooks
from maintenance.exceptions import MaintenanceError
from maintenance.updates import install
from maintenance.updates.repository import LATEST, blob_name, latest_name
from maintenance.updates.versioning import platform_tag

PLATFORM_ENV = "AURSWIFT_UPDATE_PLATFORM"
CHUNK = 64 * 1024


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
    platform: str = ""  # the platform whose release this is ("" for a platform-independent source release)
    kind: str = "source"  # "bundle": a frozen bundle, whose archive holds the bundle's files at its top level

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
        super().__init__(chunk_size=CHUNK)
        self.progress = progress
        self.downloaded = 0  # release bytes (archive or changed files) done so far, across files
        self.received = 0  # of which fetched over the network by this process (not resumed from disk)

    def _count(self, size: int, *, network: bool = True) -> None:
        self.downloaded += size
        if network:
            self.received += size
        if self.progress:
            self.progress(self.downloaded)

    def _fetch(self, url: str) -> Iterator[bytes]:
        counted = "/targets/" in url and not url.endswith(".json")
        done = 0
        try:
            chunks = _local_file(url) if url.startswith("file:") else super()._fetch(url)
            for chunk in chunks:
                done += len(chunk)
                if counted:
                    self._count(len(chunk))
                yield chunk
        except urllib3.exceptions.HTTPError as err:
            # e.g. the server went away mid-download: a clean failure; the next try starts afresh
            raise tuf_errors.DownloadError(f"the connection broke after {done} bytes ({err})") from err


class ResumableFetcher(ProgressFetcher):
    """A fetcher that resumes release files (HTTP ``Range``) across broken connections and restarts.

    :func:`download` tells it which signed target is being fetched
    (:attr:`expecting`); its bytes go to ``partial_dir/<sha256>.part``, with
    ``<sha256>.json`` recording the expected length and hash, and python-tuf
    verifies the completed file before anything uses it. A broken connection
    keeps the part; a file that fails verification (or a server sending more
    than the signed length) is thrown away, so the next try starts afresh.
    Metadata and anything else are fetched as usual (whole, into memory).
    """

    def __init__(self, progress: Callable[[int], None] | None = None, partial_dir: Path | None = None) -> None:
        super().__init__(progress)
        self.partial_dir = partial_dir
        self.expecting: TargetFile | None = None
        self.resumed = 0  # bytes taken from partial files left by an earlier try
        self.restarted = 0  # files a server sent whole although a range was asked for
        self.ua = f"AurSwift python-tuf/{tuf.__version__}"

    @contextlib.contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO]:
        info = self.expecting
        sha = (info.hashes.get("sha256") if info else None) or ""
        if info is None or self.partial_dir is None or len(sha) != 64 or not url.endswith(info.path.split("/")[-1]):
            with super().download_file(url, max_length) as handle:
                yield handle
            return
        part, meta = self.partial_dir / f"{sha}.part", self.partial_dir / f"{sha}.json"
        try:
            self._complete(url, info, part, meta)
        except tuf_errors.DownloadLengthMismatchError:
            _discard(part, meta)
            raise
        # a tuf DownloadError (the connection broke): the part stays, the next try continues it
        try:
            with part.open("rb") as handle:
                yield handle  # python-tuf verifies length and hashes, then copies it into place
        except BaseException:
            _discard(part, meta)  # tampered or truncated somewhere: never resume from it
            raise
        _discard(part, meta)

    def _resume_point(self, info: TargetFile, part: Path, meta: Path) -> int:
        try:
            recorded = json.loads(meta.read_text(encoding="utf-8"))
            have = part.stat().st_size
        except (OSError, ValueError):
            recorded, have = {}, 0
        if recorded.get("length") != info.length or recorded.get("sha256") != info.hashes["sha256"]:
            have = 0
        if have > info.length:
            have = 0
        if have == 0:
            _discard(part, meta)
            part.parent.mkdir(parents=True, exist_ok=True)
            record = {"path": info.path, "length": info.length, "sha256": info.hashes["sha256"]}
            meta.write_text(json.dumps(record), encoding="utf-8")
        return have

    def _complete(self, url: str, info: TargetFile, part: Path, meta: Path) -> None:
        have = self._resume_point(info, part, meta)
        if have:
            self.resumed += have
            self._count(have, network=False)
        if have >= info.length:
            return
        status, chunks = self._open(url, have)
        if have and status != 206:  # the server ignores ranges: start this file over
            self.restarted += 1
            self._count(-have, network=False)
            have = 0
        with open(part, "r+b" if part.exists() else "wb") as out:
            out.seek(have)
            out.truncate()
            try:
                for chunk in chunks:
                    if have + len(chunk) > info.length:
                        raise tuf_errors.DownloadLengthMismatchError(
                            f"{info.path}: the server sent more than the signed {info.length} bytes"
                        )
                    out.write(chunk)
                    have += len(chunk)
                    self._count(len(chunk))
            finally:
                out.flush()
                with contextlib.suppress(OSError):
                    os.fsync(out.fileno())

    def _open(self, url: str, start: int) -> tuple[int, Iterator[bytes]]:
        """Return (status, chunks) for ``url`` from byte ``start``: 206 when the range was honoured."""
        if url.startswith("file:"):
            return (206 if start else 200), _local_file(url, start)
        headers = {"User-Agent": self.ua}
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            response = self._proxy_env.request(
                "GET", url, preload_content=False, timeout=urllib3.Timeout(self.socket_timeout), headers=headers
            )
        except urllib3.exceptions.HTTPError as err:
            raise tuf_errors.DownloadError(f"the update server could not be reached ({err})") from err
        status = response.status
        if status == 206 and not str(response.headers.get("Content-Range", "")).startswith(f"bytes {start}-"):
            response.close()  # a range we did not ask for: read the file whole
            return self._open(url, 0) if start else (200, iter(()))
        if status == 416 and start:  # the part is longer than the file: start over
            response.close()
            return self._open(url, 0)
        if status >= 400:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP error occurred with status {status}", status)
        return status, self._stream(response)

    def _stream(self, response: urllib3.response.BaseHTTPResponse) -> Iterator[bytes]:
        done = 0
        try:
            for chunk in response.stream(self.chunk_size):
                done += len(chunk)
                yield chunk
        except urllib3.exceptions.HTTPError as err:
            raise tuf_errors.DownloadError(f"the connection broke after {done} bytes ({err})") from err
        finally:
            response.release_conn()


def _discard(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _local_file(url: str, start: int = 0) -> Iterator[bytes]:
    """A repository on a local or mounted folder (``file://``), e.g. a USB stick in a shop without internet."""
    path = Path(url2pathname(urlparse(url).path))
    try:
        handle = path.open("rb")
    except FileNotFoundError as err:  # like HTTP 404: ngclient stops looking for newer root versions here
        raise tuf_errors.DownloadHTTPError(f"{path} does not exist", 404) from err
    with handle:
        handle.seek(start)
        while chunk := handle.read(CHUNK):
            yield chunk


def download(updater: Updater, info: TargetFile) -> Path:
    """Return the verified local copy of a release file: cached, or downloaded (resuming a partial one)."""
    cached = updater.find_cached_target(info)
    if cached:
        return Path(cached)
    fetcher = updater._fetcher  # the ResumableFetcher made by _updater()
    if isinstance(fetcher, ResumableFetcher):
        fetcher.expecting = info
    try:
        return Path(updater.download_target(info))
    finally:
        if isinstance(fetcher, ResumableFetcher):
            fetcher.expecting = None


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks (a bundle holds files of 200 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class DeltaPlan:
    """Which of a release's files the installed copy already has (by sha256), and which to download."""

    folder: str
    files: dict[str, dict]
    download: list[str] = field(default_factory=list)

    @property
    def download_bytes(self) -> int:
        return sum(int(self.files[name].get("length", 0)) for name in self.download)

    @property
    def total_bytes(self) -> int:
        return sum(int(entry.get("length", 0)) for entry in self.files.values())


def client_platform() -> str:
    """The platform whose releases this client asks for (``AURSWIFT_UPDATE_PLATFORM`` overrides, for tests)."""
    return getattr(settings, "AURSWIFT_UPDATE_PLATFORM", "") or os.environ.get(PLATFORM_ENV, "") or platform_tag()


def installed_root() -> Path:
    """The folder the release's files are compared with: the bundle when frozen, else the source checkout."""
    return bundle_root() or Path(settings.BASE_DIR)


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
        fetcher=ResumableFetcher(progress, updates_dir(settings.DATA_DIR) / "partial"),
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


def _latest(updater: Updater, platform: str) -> tuple[str, TargetFile]:
    """This platform's ``latest-<platform>.json`` (a source checkout may also take ``latest.json``)."""
    names = [latest_name(platform)]
    if not is_frozen():
        names.append(LATEST)  # a platform-independent source release runs on any Python
    for name in names:
        info = updater.get_targetinfo(name)
        if info is not None:
            return name, info
    raise UpdateError(f"The update server lists no release for this platform ({platform}).")


def check(url: str | None = None, installed: str | None = None, data_dir: Path | None = None) -> UpdateOffer:
    """Return what the repository offers; raise UpdateError if it cannot be fetched or trusted.

    A release that failed to install on this machine is listed in ``skipped_versions``
    and not offered (``offer.newer`` is False).
    """
    installed = installed or app_version()
    platform = client_platform()
    try:
        updater = _updater(url if url is not None else settings.AURSWIFT_UPDATE_URL)
        updater.refresh()
        _name, info = _latest(updater, platform)
        latest = json.loads(Path(updater.download_target(info)).read_text(encoding="utf-8"))
        if latest.get("platform") and latest["platform"] != platform:
            raise UpdateError(
                f"The server's release list for {platform} names another platform ({latest['platform']})."
            )
        archive = updater.get_targetinfo(latest["archive"])
        if archive is None:
            raise UpdateError(f"The release archive {latest['archive']} is not in the signed list.")
    except UpdateError:
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, ValueError, KeyError) as err:
        raise UpdateError(f"Update check failed: {_explain(err)}.") from err
    offer = UpdateOffer(installed, latest["version"], latest["archive"], latest.get("notes", ""), archive.length)
    offer.platform, offer.kind = latest.get("platform", ""), latest.get("kind", "source")
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


def _has(local: Path, entry: dict) -> bool:
    """Whether the installed ``local`` is already this manifest entry (a file by size and sha256, or a link)."""
    if "link" in entry:
        return local.is_symlink() and os.readlink(local) == entry["link"]
    try:
        if local.is_symlink() or not local.is_file() or local.stat().st_size != int(entry["length"]):
            return False
        return sha256_file(local) == entry["sha256"]
    except OSError:
        return False


def plan_delta(manifest: dict, root: Path) -> DeltaPlan:
    """Compare a release manifest with the installed files under ``root``: what must be downloaded."""
    plan = DeltaPlan(str(_release_path(manifest["folder"])), manifest["files"])
    for name, entry in plan.files.items():
        if "link" in entry:
            _link_target(name, entry["link"])
        if "link" not in entry and not _has(root / _release_path(name), entry):
            plan.download.append(name)
    return plan


def _link_target(name: str, target: str) -> str:
    """A symlink of the release must point inside the release's folder."""
    outside = UpdateError(f"Refused: the release's link {name!r} points outside its folder ({target!r}).")
    if PurePosixPath(target).is_absolute() or "\\" in target or ":" in target:
        raise outside
    level = len(PurePosixPath(name).parts) - 1
    for part in PurePosixPath(target).parts:
        level += -1 if part == ".." else 0 if part == "." else 1
        if level < 0:
            raise outside
    return target


def _manifest(updater: Updater, manifest_name: str) -> dict:
    info = updater.get_targetinfo(manifest_name)
    if info is None:
        raise UpdateError(f"The release manifest {manifest_name} is not in the signed list.")
    return json.loads(download(updater, info).read_bytes())


def _delta_plan(updater: Updater, manifest_name: str, root: Path | None = None) -> DeltaPlan:
    """Read the signed manifest and compare it with the running version's files."""
    return plan_delta(_manifest(updater, manifest_name), root or installed_root())


def _blob_info(name: str, entry: dict) -> TargetFile:
    """The signed description of one file of a release, as its (signed) manifest gives it."""
    return TargetFile(int(entry["length"]), {"sha256": entry["sha256"]}, blob_name(entry["sha256"]))


def _copy_verified(source: Path, dest: Path, sha256: str) -> bool:
    """Copy ``source`` to ``dest`` while hashing it; return whether the copy has the expected sha256."""
    digest = hashlib.sha256()
    with source.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest() == sha256


def _assemble(updater: Updater, plan: DeltaPlan, into: Path, root: Path | None = None) -> None:
    """Write the release into ``into``: unchanged files from the running version, the rest downloaded."""
    root = root or installed_root()
    links = []
    for name, entry in plan.files.items():
        relative = _release_path(name)
        dest = into / plan.folder / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        if "link" in entry:
            links.append((dest, _link_target(name, entry["link"])))
            continue
        copied = False
        if name not in plan.download:
            with contextlib.suppress(OSError):
                copied = _copy_verified(root / relative, dest, entry["sha256"])
        if not copied:  # to download, or changed since the check
            shutil.copyfile(download(updater, _blob_info(name, entry)), dest)
        os.chmod(dest, int(entry["mode"]) & 0o755)
    for dest, target in links:
        dest.unlink(missing_ok=True)
        os.symlink(target, dest)


def stage(offer: UpdateOffer, progress: Callable[[int], None] | None = None) -> Path:
    """Download and verify the offered release, then unpack it into updates/staged/<version>/.

    A download that breaks leaves its partial files under updates/partial/: the next call continues them.
    """
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
            archive = download(updater, info)
            # a bundle's archive holds the bundle's files at its top level (extract anywhere, run ./aurswift)
            into = tmp / f"aurswift-{offer.version}" if offer.kind == "bundle" else tmp
            into.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(into, filter="data")
    except UpdateError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, ValueError, KeyError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UpdateError(f"Download refused: {_explain(err)}. Nothing was installed.") from err
    (tmp / "staged.json").write_text(json.dumps(offer.as_dict(), indent=2), encoding="utf-8")
    # Renames only, so a kill leaves the old release whole, or none, or the new one whole: never a staged.json
    # over half a tree (which the launcher would install, fail to start and never offer again).
    old = staged_root / f".{offer.version}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
        testhooks.pause_if("restaging")
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
