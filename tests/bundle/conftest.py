"""The frozen bundle (packaging/): built once per session, reused while its inputs are unchanged.

The bundle is built into ``test-output/bundle-cache/<key>/``; ``key`` hashes
everything the bundle is made of (the app's own files as git sees them, the
packaging folder, pyproject.toml, the Python version and every installed
package's version), so a rerun with nothing changed starts the tests at once,
and any change rebuilds. Only the newest cached build is kept (each is about
half a gigabyte).
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    REPO_ROOT,
    HeadlessApp,  # the same running app, started from the bundle
)

PACKAGING = REPO_ROOT / "packaging"
CACHE = REPO_ROOT / "test-output" / "bundle-cache"


def pytest_configure(config: pytest.Config) -> None:
    # `-m bundle` selects these tests; registered here, not in pyproject.toml.
    config.addinivalue_line("markers", "bundle: builds and runs the frozen PyInstaller bundle (packaging/)")


def _load_build_module():
    spec = importlib.util.spec_from_file_location("aurswift_packaging_build", PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


build_module = _load_build_module()


def cache_key() -> str:
    """Return a hash of everything the bundle is built from."""
    digest = hashlib.sha256()
    files = [(name, REPO_ROOT / name) for name in build_module.app_files(REPO_ROOT)]
    files += [
        (path.relative_to(REPO_ROOT).as_posix(), path)
        for path in sorted(PACKAGING.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    files.append(("pyproject.toml", REPO_ROOT / "pyproject.toml"))
    for name, path in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(sys.version.encode())
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(versions).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Bundle:
    folder: Path  # <dist>/aurswift
    executable: Path
    archive: Path
    info: dict  # what packaging/build.py printed (sizes, build time)
    reused: bool


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    """Build the bundle and its first-install archive once (or reuse the cached build)."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[bundle]' (scripts/setup.sh)")
    key = cache_key()
    folder = CACHE / key
    done = folder / "build.json"
    reused = done.exists()
    if not reused:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        proc = subprocess.run(
            [
                sys.executable,
                str(PACKAGING / "build.py"),
                "--dist",
                str(folder / "dist"),
                "--work",
                str(folder / "work"),
                "--compress-level",
                "1",  # 3× faster than the release default (6); the archive is about 9 % larger
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        shutil.rmtree(folder / "work", ignore_errors=True)  # 100+ MB of PyInstaller's intermediate files
        done.write_text(proc.stdout, encoding="utf-8")
        for old in CACHE.iterdir():  # keep only this build
            if old.is_dir() and old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    info = json.loads(done.read_text(encoding="utf-8"))
    how = "reused" if reused else f"built in {info['build_seconds']} s + archive {info['archive_seconds']} s"
    print(
        f"bundle: {info['bundle_bytes'] / 1e6:.0f} MB in {info['bundle_files']} files, "
        f"archive {info['archive_bytes'] / 1e6:.0f} MB, {how}"
    )
    return Bundle(Path(info["bundle"]), Path(info["executable"]), Path(info["archive"]), info, reused)


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return an ``env -i``-like environment: no virtualenv, no PATH, only the data directory."""
    return {"AURSWIFT_DATA_DIR": str(data_dir), **extra}


def run_bundle(executable: Path, *args: str, data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``<bundle>/aurswift ARGS`` through ``env -i`` with only AURSWIFT_DATA_DIR set."""
    return subprocess.run(
        ["/usr/bin/env", "-i", f"AURSWIFT_DATA_DIR={data_dir}", str(executable), *args],
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_bundle_headless(executable: Path, data_dir: Path, timeout: float = 60) -> HeadlessApp:
    """Start ``env -i AURSWIFT_DATA_DIR=… <bundle>/aurswift --headless``; wait for its ``Serving on`` line."""
    proc = subprocess.Popen(
        ["/usr/bin/env", "-i", f"AURSWIFT_DATA_DIR={data_dir}", str(executable), "--headless"],
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    found = threading.Event()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            output.append(line.rstrip("\n"))
            if line.startswith("Serving on "):
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.is_set():
        if proc.poll() is not None or time.monotonic() > deadline:
            app = HeadlessApp(proc, "", output)
            app.stop()
            raise AssertionError("the bundle did not start:\n" + "\n".join(output))
        found.wait(0.1)
    url = next(line for line in output if line.startswith("Serving on ")).split(" ", 2)[2]
    return HeadlessApp(proc, url, output)


def open_till(app: HeadlessApp, timeout: float = 60) -> tuple[str, str]:
    """Open the app as the window does (the printed URL, then the till); return (URL, page) of the sign-in page.

    The first start shows the start-up screen while the database is prepared
    (and, once, a welcome page); keep going back to the till until it shows.
    """
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(app.url, timeout=15) as response:  # loopback only
        where, page = response.geturl(), response.read().decode("utf-8")
    deadline = time.monotonic() + timeout
    while not where.endswith("/signin/"):
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached the sign-in page; last {where}:\n{page[:2000]}")
        time.sleep(0.3)
        with opener.open(app.base + "/", timeout=15) as response:
            where, page = response.geturl(), response.read().decode("utf-8")
    return where, page
