"""A release that carries a new stable launcher: it takes over at the next start, and a kill never breaks it.

Both launchers are real frozen executables (packaging/stable.spec): the one
the session's bundle carries, and one frozen from a copy of
``aurswift_stable.py`` that answers its self-check with a revision mark
(cached beside the bundle). The versions they start are stand-ins (a shell
script that prints what the app prints): the swap is the launcher's business.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from maintenance.updates import install
from tests.helpers.app import REPO_ROOT
from tests.helpers.bundle import Bundle, build_module, env_i

pytestmark = [pytest.mark.slow, pytest.mark.bundle]
NAME = install.LAUNCHER_NAME
FAKE_APP = """#!/bin/sh
echo "version {version} running: $*"
echo "Serving on http://127.0.0.1:9/launch/stand-in/"
exit 0
"""
MARK = "(revision 2)"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def launchers(bundle: Bundle) -> dict[str, Path]:
    """The bundle's launcher, and a newer one (a patched copy of aurswift_stable.py, frozen once and cached)."""
    folder = bundle.folder.parent.parent / "launcher-revision-2"  # inside the bundle's cache folder
    new = folder / "dist" / NAME
    if not new.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        source = (REPO_ROOT / "aurswift_stable.py").read_text(encoding="utf-8")
        patched = source.replace("print(install.LAUNCHER_OK, flush=True)", f'print(install.LAUNCHER_OK, "{MARK}")')
        assert patched != source
        entry = folder / "aurswift_stable.py"
        entry.write_text(patched, encoding="utf-8")
        build_module.build_stable_launcher(folder / "dist", folder / "work", entry=entry)
        shutil.rmtree(folder / "work", ignore_errors=True)
    assert _sha(new) != _sha(bundle.launcher)
    return {"old": bundle.launcher, "new": new}


def _script(path: Path, version: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_APP.format(version=version), encoding="utf-8")
    path.chmod(0o755)


def _shop(base: Path, launchers: dict[str, Path], new_launcher: Path | None = None) -> tuple[Path, Path]:
    """An install of 1.0.0 with the old launcher; 2.0.0 installed, confirmed, carrying ``new_launcher``."""
    home, data = base / "AurSwift", base / "data"
    _script(home / "aurswift", "1.0.0")
    init = home / "_internal" / "app" / "aurswift" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text('__version__ = "1.0.0"\n', encoding="utf-8")
    shutil.copy2(launchers["old"], home / NAME)
    v2 = data / "app" / "versions" / "2.0.0" / "aurswift-2.0.0"
    _script(v2 / "aurswift", "2.0.0")
    shutil.copy2(new_launcher or launchers["new"], v2 / NAME)
    (data / "app" / "current.json").write_text(json.dumps({"current": "2.0.0", "previous": "bundled", "trial": False}))
    return home, data


def _start(home: Path, data: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    extra = {install.SWAP_KILL_ENV: kill_at} if kill_at else {}
    return subprocess.run(
        [*env_i(data, **extra), str(home / NAME), *(args or ("--headless",))],
        cwd=data,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _works(home: Path, data: Path) -> str:
    """Start the shortcut's launcher as a shop would; it must start the current version. Return its output."""
    proc = _start(home, data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "version 2.0.0 running: --headless" in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith(f"{NAME}."))


def test_a_newer_launcher_is_staged_then_takes_over_at_the_next_start(launchers, tmp_path):
    home, data = _shop(tmp_path, launchers)
    first = _works(home, data)
    assert "2.0.0's launcher is staged" in first, first
    assert _sha(home / NAME) == _sha(launchers["old"]) and (home / f"{NAME}.new").is_file()

    second = _works(home, data)
    assert "swapped in the new launcher" in second, second
    assert _sha(home / NAME) == _sha(launchers["new"])
    check = _start(home, data, install.LAUNCHER_CHECK_ARG)
    assert check.returncode == 0 and MARK in check.stdout, check.stdout  # the new one answers now

    third = _works(home, data)  # the new launcher has started: the old one is no longer kept
    assert not _leftovers(home), _leftovers(home)
    assert "staged" not in third and "swapped" not in third, third
    assert install.launcher_version(data, home) == "2.0.0"


@pytest.mark.parametrize("step", ["staging", "staged", "checked", "kept", "replaced"])
def test_a_kill_at_any_step_leaves_a_launcher_that_starts_and_the_swap_completes(launchers, tmp_path, step):
    home, data = _shop(tmp_path, launchers)
    if step not in ("staging", "staged"):
        _works(home, data)  # stages the new launcher; the kill comes during the swap at the next start
    killed = _start(home, data, kill_at=step)
    assert killed.returncode != 0, killed.stdout  # SIGKILL: no clean-up ran
    assert "version 2.0.0 running" not in killed.stdout
    # Whatever the kill left, the shortcut's launcher starts the app, and a start or two later it is the new one.
    for _ in range(3):
        _works(home, data)
    assert _sha(home / NAME) == _sha(launchers["new"]), step
    assert not _leftovers(home), (step, _leftovers(home))


def test_a_staged_launcher_that_cannot_start_is_thrown_away_and_never_staged_again(launchers, tmp_path):
    broken = tmp_path / "broken-launcher"
    broken.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    home, data = _shop(tmp_path / "shop", launchers, new_launcher=broken)
    assert "staged" in _works(home, data)
    refused = _works(home, data)
    assert "the new launcher did not start; keeping this one" in refused, refused
    assert _sha(home / NAME) == _sha(launchers["old"]) and not _leftovers(home)
    assert "staged" not in _works(home, data)
    assert _sha(broken) in json.loads((data / "app" / install.LAUNCHER_STATE).read_text())["rejected"]


def test_an_older_version_does_not_hand_its_launcher_over(launchers, tmp_path):
    home, data = _shop(tmp_path, launchers)
    init = home / "_internal" / "app" / "aurswift" / "__init__.py"
    init.write_text('__version__ = "3.0.0"\n', encoding="utf-8")  # the launcher came with 3.0.0; 2.0.0 is older
    output = _works(home, data)
    assert "staged" not in output and not _leftovers(home), output
