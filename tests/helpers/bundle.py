"""Frozen bundles for tests: built once and cached, run through ``env -i``, served from a loopback repository.

A build goes into ``test-output/bundle-cache/<key>/``; ``key`` hashes
everything the bundle is made of (the app's own files as git sees them, the
packaging folder, the stable launcher, pyproject.toml, the Python version and
every installed package's version), so a rerun with nothing changed reuses it,
and any change rebuilds. Only the newest cached build is kept (each is about
half a gigabyte); builds derived from it (a second release) live inside it.
"""

from __future__ import annotations

import functools
import hashlib
import http.cookiejar
import importlib.metadata
import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.helpers.app import REPO_ROOT, HeadlessApp, start_serving

PACKAGING = REPO_ROOT / "packaging"
CACHE = REPO_ROOT / "test-output" / "bundle-cache"
STABLE_SOURCES = ("aurswift_stable.py",)  # outside the app's files, but frozen into every bundle (its launcher)


def _load_build_module():
    spec = importlib.util.spec_from_file_location("aurswift_packaging_build", PACKAGING / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_module = _load_build_module()


def cache_key(project: Path = REPO_ROOT, extra: bytes = b"") -> str:
    """Return a hash of everything the bundle is built from (``extra``: anything else a build depends on)."""
    digest = hashlib.sha256()
    files = [(name, project / name) for name in build_module.app_files(project)]
    files += [
        (path.relative_to(project).as_posix(), path)
        for path in sorted((project / "packaging").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    files += [(name, project / name) for name in (*STABLE_SOURCES, "pyproject.toml")]
    for name, path in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(sys.version.encode())
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(versions).encode())
    digest.update(extra)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Bundle:
    folder: Path  # <dist>/aurswift
    executable: Path
    archive: Path
    info: dict  # what packaging/build.py printed (sizes, build time)
    reused: bool

    @property
    def launcher(self) -> Path:
        """The stable launcher frozen into the bundle (packaging/stable.spec)."""
        return self.folder / "aurswift-launcher"


def build_cached(
    folder: Path,
    *,
    project: Path = REPO_ROOT,
    version: str | None = None,
    trusted_root: Path | None = None,
    env: dict[str, str] | None = None,
) -> Bundle:
    """Build ``project``'s bundle and archive into ``folder`` once; reuse it while ``folder/build.json`` exists."""
    done = folder / "build.json"
    reused = done.exists()
    if not reused:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        command = [
            sys.executable,
            str(project / "packaging" / "build.py"),
            "--dist",
            str(folder / "dist"),
            "--work",
            str(folder / "work"),
            "--compress-level",
            "1",  # 3× faster than the release default (6); the archive is about 9 % larger
        ]
        if version:
            command += ["--version", version]
        if trusted_root:
            command += ["--trusted-root", str(trusted_root)]
        proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        shutil.rmtree(folder / "work", ignore_errors=True)  # 100+ MB of PyInstaller's intermediate files
        done.write_text(proc.stdout, encoding="utf-8")
    info = json.loads(done.read_text(encoding="utf-8"))
    return Bundle(Path(info["bundle"]), Path(info["executable"]), Path(info["archive"]), info, reused)


def describe(bundle: Bundle) -> str:
    info = bundle.info
    how = "reused" if bundle.reused else f"built in {info['build_seconds']} s + archive {info['archive_seconds']} s"
    return (
        f"bundle {info['version']}: {info['bundle_bytes'] / 1e6:.0f} MB in {info['bundle_files']} files, "
        f"archive {info['archive_bytes'] / 1e6:.0f} MB, {how}"
    )


def keep_only(key: str) -> None:
    """Drop every cached build but ``key`` (each is about half a gigabyte)."""
    for old in CACHE.iterdir():
        if old.is_dir() and old.name != key:
            shutil.rmtree(old, ignore_errors=True)


def env_i(data_dir: Path, **extra: str) -> list[str]:
    """``env -i`` with only the data directory (and ``extra``): no virtualenv, no PATH, no HOME."""
    return ["/usr/bin/env", "-i", f"AURSWIFT_DATA_DIR={data_dir}", *(f"{k}={v}" for k, v in extra.items())]


def run_bundle(
    executable: Path, *args: str, data_dir: Path, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess:
    """Run ``<bundle>/aurswift ARGS`` through ``env -i`` with only AURSWIFT_DATA_DIR (and ``extra``) set."""
    return subprocess.run(
        [*env_i(data_dir, **extra), str(executable), *args],
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_bundle_headless(executable: Path, data_dir: Path, timeout: float = 60, **extra: str) -> HeadlessApp:
    """Start ``env -i AURSWIFT_DATA_DIR=… <executable> --headless``; wait for its ``Serving on`` line."""
    command = [*env_i(data_dir, **extra), str(executable), "--headless"]
    return start_serving(command, env=None, cwd=data_dir, timeout=timeout, what="the bundle")


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


def project_copy(into: Path, tag: str | None = None, app_from: Path | None = None) -> Path:
    """Copy what a bundle is built from (app files, packaging/, the stable launcher) into a new git repository.

    The app's files come from this checkout (as git sees them), or from ``app_from``: a built bundle's
    ``_internal/app/``, so the copy is exactly the release that bundle is, whatever was edited since.
    Committed as one commit and tagged ``v<tag>`` when given, so ``build_release`` continues from there.
    """
    if app_from is None:
        app = [(name, REPO_ROOT / name) for name in build_module.app_files(REPO_ROOT)]
    else:
        app = [
            (path.relative_to(app_from).as_posix(), path)
            for path in sorted(app_from.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        ]
        app = [(name, path) for name, path in app if name != build_module.TRUSTED_ROOT]
    listed = {name for name, _path in app}
    others = [(name, REPO_ROOT / name) for name in (*STABLE_SOURCES, "pyproject.toml") if name not in listed]
    for name, path in [*app, *others]:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, into / name)
    shutil.copytree(REPO_ROOT / "packaging", into / "packaging", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(into), "-c", "user.email=t@example.com", "-c", "user.name=T"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "feat: the app as the first release has it"], check=True)
    if tag:
        subprocess.run([*git, "tag", "-a", f"v{tag}", "-m", tag], check=True)
    return into


def pure_package(into: Path, name: str, version: str, *, filler_bytes: int = 0) -> Path:
    """Write a small pure-Python distribution ``name`` ``version`` (module and .dist-info) into ``into``.

    Put ``into`` on ``PYTHONPATH`` (and ``sys.path``) and ``importlib.metadata`` sees it, as if pip had
    installed it. ``filler_bytes`` adds a module of that much deterministic data (a package big enough
    for a download to be cut half way).
    """
    package = into / name
    package.mkdir(parents=True, exist_ok=True)
    init = f'"""{name}: a dependency made by the bundle tests."""\n\n__version__ = "{version}"\n'
    if filler_bytes:
        init += "\nfrom .table import TABLE  # noqa: E402, F401\n"
    (package / "__init__.py").write_text(init, encoding="utf-8")
    files = [f"{name}/__init__.py"]
    if filler_bytes:
        seed = hashlib.sha256(f"{name}-{version}".encode()).digest()
        blocks, total = [], 0
        while total < filler_bytes:
            seed = hashlib.sha256(seed).digest()
            blocks.append(seed.hex())
            total += 64
        text = "".join(blocks)
        lines = [text[i : i + 96] for i in range(0, len(text), 96)]
        body = "TABLE = (\n" + "".join(f'    "{line}"\n' for line in lines) + ")\n"
        (package / "table.py").write_text(body, encoding="utf-8")
        files.append(f"{name}/table.py")
    info = into / f"{name}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "top_level.txt").write_text(f"{name}\n", encoding="utf-8")
    record = [*files, f"{info.name}/METADATA", f"{info.name}/top_level.txt", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{line},,\n" for line in record), encoding="utf-8")
    return into


RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


class RepositoryServer:
    """Serve an update repository on 127.0.0.1, honouring ``Range``, counting release-file bytes.

    ``sent`` counts the body bytes of release files (anything under ``/targets/`` that is not JSON).
    ``die_after``: once that many release-file bytes have gone out, the connection is cut mid-file and
    the server shuts down, like a server that was killed. ``start()`` again serves on the same port
    (a client keeps its configured URL); ``sent`` keeps counting across restarts.
    """

    def __init__(self, directory: Path, *, die_after: int | None = None) -> None:
        self.directory, self.die_after = directory, die_after
        self.sent = 0
        self.requests: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        self.dead = threading.Event()
        self.killed = False
        self.port = 0
        self.httpd: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # http.server's name
                path = Path(self.translate_path(self.path))
                asked = self.headers.get("Range", "")
                if not path.is_file():
                    server._log(self.path, 404, asked)
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                size = path.stat().st_size
                start, end, status = 0, size - 1, 200
                match = RANGE_RE.match(asked) if asked else None
                if match:
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                    if start >= size:
                        server._log(self.path, 416, asked)
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                server._log(self.path, status, asked)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start + 1))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                counted = "/targets/" in self.path and not self.path.endswith(".json")
                with path.open("rb") as handle:
                    handle.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = handle.read(min(16 * 1024, left))
                        if not chunk:
                            break
                        if counted:
                            allowed = server._allow(len(chunk))
                            if allowed < len(chunk):
                                self.wfile.write(chunk[:allowed])
                                self.wfile.flush()
                                server._add(allowed)
                                self.close_connection = True
                                self.connection.shutdown(socket.SHUT_RDWR)
                                server._die()
                                return
                            server._add(len(chunk))
                        self.wfile.write(chunk)
                        left -= len(chunk)

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.dead.clear()
        if self.killed:  # restarted after it died: serve everything from now on
            self.killed, self.die_after = False, None
        handler = functools.partial(Handler, directory=str(self.directory))
        self.httpd = Server(("127.0.0.1", self.port), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _log(self, path: str, status: int, asked: str) -> None:
        with self.lock:
            self.requests.append((path, status, asked))

    def _allow(self, size: int) -> int:
        with self.lock:
            if self.killed:
                return 0
            if self.die_after is None:
                return size
            return max(0, min(size, self.die_after - self.sent))

    def _add(self, size: int) -> None:
        with self.lock:
            self.sent += size

    def _die(self) -> None:
        with self.lock:
            self.killed = True  # every later release file is cut at once, until start() again
        threading.Thread(target=self.stop, daemon=True).start()

    def paths(self) -> list[str]:
        return [path for path, _status, _asked in self.requests]

    def stop(self) -> None:
        if self.httpd is not None:
            httpd, self.httpd = self.httpd, None
            httpd.shutdown()
            httpd.server_close()
        self.dead.set()
