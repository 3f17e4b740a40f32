"""The frozen bundle's figures: size, first start (bundle vs source), and what updates download.

``python -m benchmarks.bundle_speed [--rounds N]`` uses the bundle the bundle
tests cached (``test-output/bundle-cache/<key>/``, built first when the tree
changed: a few minutes) and prints:

- the bundle's size and file count, and its first-install archive's size;
- first start to the till's sign-in page: a new data folder each round, the
  process started headless (the bundle under ``env -i``, through its stable
  launcher; the source checkout as ``python launcher.py``), timed until the
  sign-in page is served; medians, and the ratio bundle / source;
- bytes downloaded for a code-only update and for a Django patch-level bump,
  as a share of the bundle. Both are planned by the update client's own
  ``plan_delta`` (the files whose size and sha256 differ) against an
  "installed" copy of the bundle made of hard links, in which only the files
  concerned are rewritten: for the code-only update, one module of the app and
  the version stamp; for the Django bump, every file of ``_internal/django/``
  replaced by the previous patch release's own file (its wheel, fetched once
  with pip into benchmarks/out/), so the plan is what a shop on the previous
  Django downloads to reach the bundled one.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CODE_MODULE = "_internal/app/pos/services/reports.py"
VERSION_STAMP = "_internal/app/aurswift/__init__.py"


def cached_bundle(folder: Path | None = None) -> dict:
    """The bundle tests' cached build of this tree (built now if the tree changed since), or the one in ``folder``."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.bundle import CACHE, build_cached, cache_key, keep_only

    if folder is not None:
        return {**build_cached(folder).info, "reused": True}
    key = cache_key()
    bundle = build_cached(CACHE / key)
    keep_only(key)
    return {**bundle.info, "reused": bundle.reused}


def _serving(command: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("Serving on ") and not found:
                found.append(line.split(" ", 2)[2].strip())
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(300):
        proc.kill()
        raise SystemExit(f"{command} never served")
    return proc, found[0], started


def first_start(command: list[str], env: dict[str, str], data: Path, cwd: Path) -> float:
    """Seconds from starting the process on an empty data folder to the till's sign-in page being served."""
    proc, url, started = _serving(command, env, cwd)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        base = "/".join(url.split("/")[:3])
        opener.open(url, timeout=30).close()  # the window's one-time launch URL
        while True:
            try:
                with opener.open(base + "/", timeout=30) as response:
                    if response.geturl().endswith("/signin/") and "Who is on the till?" in response.read().decode():
                        return time.perf_counter() - started
            except urllib.error.URLError:
                pass
            time.sleep(0.05)
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def start_times(bundle: Path, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"bundle": [], "source": []}
    with tempfile.TemporaryDirectory(prefix="aurswift-bench-start-") as tmp:
        for n in range(rounds):
            data = Path(tmp) / f"bundle-{n}"
            data.mkdir()
            command = ["/usr/bin/env", "-i", f"AURSWIFT_DATA_DIR={data}", str(bundle / "aurswift"), "--headless"]
            times["bundle"].append(first_start(command, {}, data, data))
            data = Path(tmp) / f"source-{n}"
            data.mkdir()
            env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
            env["AURSWIFT_DATA_DIR"] = str(data)
            command = [sys.executable, str(ROOT / "launcher.py"), "--headless"]
            times["source"].append(first_start(command, env, data, ROOT))
    return {name: statistics.median(values) for name, values in times.items()} | {"rounds": times}  # type: ignore[dict-item]


def _installed_copy(bundle: Path, into: Path) -> Path:
    """A copy of the bundle made of hard links (no space, no time); files rewritten in it are unlinked first."""
    subprocess.run(["cp", "-al", str(bundle), str(into)], check=True)
    return into


def _rewrite(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)  # never write through a hard link into the real bundle
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _plan(bundle: Path, installed: Path) -> tuple[int, int, list[str]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    sys.path.insert(0, str(ROOT))
    from maintenance.updates.client import plan_delta
    from maintenance.updates.repository import bundle_manifest

    manifest = {"folder": "aurswift-next", "files": bundle_manifest(bundle)}
    plan = plan_delta(manifest, installed)
    return plan.download_bytes, plan.total_bytes, plan.download


def previous_django_wheel() -> tuple[str, Path]:
    """The wheel of the Django patch release before the bundled one (pip download, kept in benchmarks/out/)."""
    major, minor, patch = (int(p) for p in importlib.metadata.version("django").split(".")[:3])
    if patch == 0:
        raise SystemExit("the bundled Django is a .0 release: no earlier patch release to compare with")
    version = f"{major}.{minor}.{patch - 1}"
    folder = OUT / "django-wheels"
    wheels = list(folder.glob(f"django-{version}-*.whl")) or list(folder.glob(f"Django-{version}-*.whl"))
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", f"django=={version}", "--no-deps", "-q", "-d", str(folder)]
        subprocess.run(command, check=True)
        wheels = list(folder.glob("*jango-*.whl"))
    return version, wheels[0]


def update_downloads(bundle: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="aurswift-bench-delta-") as tmp:
        code = _installed_copy(bundle, Path(tmp) / "code")
        for name, extra in ((CODE_MODULE, b"\n# the previous release\n"), (VERSION_STAMP, b"\n# 0.0.1\n")):
            _rewrite(code / name, (bundle / name).read_bytes() + extra)
        code_bytes, total, code_files = _plan(bundle, code)

        previous, wheel = previous_django_wheel()
        django = _installed_copy(bundle, Path(tmp) / "django")
        internal = django / "_internal"
        with zipfile.ZipFile(wheel) as archive:
            old = {name: archive.read(name) for name in archive.namelist() if name.startswith("django/")}
        for path in sorted((internal / "django").rglob("*")):
            if path.is_file():
                relative = path.relative_to(internal).as_posix()
                if relative in old:
                    if old[relative] != path.read_bytes():
                        _rewrite(path, old[relative])
                else:
                    path.unlink()  # new in the bundled release
        versions = internal / "versions.json"
        current = importlib.metadata.version("django")
        _rewrite(versions, versions.read_bytes().replace(f'"{current}"'.encode(), f'"{previous}"'.encode()))
        django_bytes, _total, django_files = _plan(bundle, django)
    return {
        "bundle_bytes": total,
        "code_bytes": code_bytes,
        "code_files": len(code_files),
        "django_from": previous,
        "django_to": current,
        "django_bytes": django_bytes,
        "django_files": len(django_files),
        "django_tree_files": sum(1 for p in (bundle / "_internal" / "django").rglob("*") if p.is_file()),
        "django_tree_bytes": sum(p.stat().st_size for p in (bundle / "_internal" / "django").rglob("*") if p.is_file()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="first starts of each kind (median)")
    parser.add_argument("--cached", type=Path, help="a cache folder of a build already made (holding build.json)")
    args = parser.parse_args(argv)
    info = cached_bundle(args.cached)
    bundle = Path(info["bundle"])
    how = "cached build" if info["reused"] else f"built now in {info['build_seconds']} s"
    print(
        f"bundle {info['version']} ({info['platform']}): {info['bundle_bytes'] / 1e6:.0f} MB in "
        f"{info['bundle_files']:,} files; first-install archive {info['archive_bytes'] / 1e6:.0f} MB ({how})",
        flush=True,
    )
    starts = start_times(bundle, args.rounds)
    print(
        f"first start to the till's sign-in page (new data folder, median of {args.rounds}): bundle "
        f"{starts['bundle']:.2f} s vs source {starts['source']:.2f} s "
        f"(ratio {starts['bundle'] / starts['source']:.2f}); rounds {starts['rounds']}",
        flush=True,
    )
    delta = update_downloads(bundle)
    share = delta["bundle_bytes"]
    print(
        f"code-only update: {delta['code_bytes']:,} bytes in {delta['code_files']} files "
        f"({delta['code_bytes'] / share:.5%} of the bundle)"
    )
    print(
        f"Django {delta['django_from']} → {delta['django_to']}: {delta['django_bytes']:,} bytes in "
        f"{delta['django_files']} files ({delta['django_bytes'] / share:.3%} of the bundle; Django's folder is "
        f"{delta['django_tree_bytes'] / 1e6:.1f} MB in {delta['django_tree_files']:,} files)"
    )


if __name__ == "__main__":
    main()
