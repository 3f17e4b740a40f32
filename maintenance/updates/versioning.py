"""Next version and release notes from conventional commits (feat → minor, fix → patch, ! → major)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

HEADER_RE = re.compile(r"^(?P<type>[a-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?: (?P<subject>.+)$")
NOTE_TITLES = {"feat": "Features", "fix": "Fixes", "perf": "Performance"}


@dataclass(frozen=True)
class Commit:
    type: str
    subject: str
    breaking: bool


def parse(message: str) -> Commit | None:
    """Return the conventional-commit reading of a message, or None if it is not one."""
    lines = message.strip().splitlines()
    if not lines:
        return None
    match = HEADER_RE.match(lines[0].strip())
    if not match:
        return None
    body = "\n".join(lines[1:])
    breaking = bool(match["bang"]) or "BREAKING CHANGE:" in body or "BREAKING-CHANGE:" in body
    return Commit(match["type"], match["subject"].strip(), breaking)


def next_version(current: str, messages: list[str]) -> str | None:
    """Return the version after ``current`` for these commits, or None if nothing is releasable."""
    commits = [c for c in (parse(m) for m in messages) if c]
    v = Version(current)
    if any(c.breaking for c in commits):
        return f"{v.major + 1}.0.0" if v.major > 0 else f"0.{v.minor + 1}.0"
    if any(c.type == "feat" for c in commits):
        return f"{v.major}.{v.minor + 1}.0"
    if any(c.type in {"fix", "perf"} for c in commits):
        return f"{v.major}.{v.minor}.{v.micro + 1}"
    return None


def release_notes(messages: list[str]) -> str:
    """Return Markdown notes grouped by kind, breaking changes first."""
    commits = [c for c in (parse(m) for m in messages) if c]
    sections: list[str] = []
    breaking = [c.subject for c in commits if c.breaking]
    if breaking:
        sections.append("### Breaking changes\n" + "\n".join(f"- {s}" for s in breaking))
    for kind, title in NOTE_TITLES.items():
        items = [c.subject for c in commits if c.type == kind and not c.breaking]
        if items:
            sections.append(f"### {title}\n" + "\n".join(f"- {s}" for s in items))
    return "\n\n".join(sections)


def platform_tag(system: str | None = None, machine: str | None = None) -> str:
    """Return the release platform of this machine: ``linux-x86_64``, ``win-amd64``, ``macos-arm64``, …

    ``packaging/build.py`` uses this very function: the bundle a machine builds and the releases its
    client asks for carry the same tag.
    """
    import platform
    import sys

    system = (system or sys.platform).lower()
    machine = (machine or platform.machine()).lower()
    if system.startswith("win"):
        name = "win"
        machine = {"x86_64": "amd64", "x64": "amd64", "aarch64": "arm64", "x86": "x86", "i686": "x86"}.get(
            machine, machine
        )
    elif system in ("darwin", "macos", "mac"):
        name = "macos"
        machine = {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    else:
        name = "linux" if system.startswith("linux") else system
        machine = {"amd64": "x86_64", "arm64": "aarch64", "i686": "x86", "i386": "x86"}.get(machine, machine)
    return f"{name}-{machine}"


def dependency_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Lines saying which bundled packages changed: ``Django 5.2.18 → 5.2.19``, ``iniconfig 2.3.1 (new)``, …"""
    lines = []
    for name in sorted(set(old) | set(new), key=str.lower):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            lines.append(f"{name} {after} (new)")
        elif after is None:
            lines.append(f"{name} {before} (removed)")
        else:
            lines.append(f"{name} {before} → {after}")
    return lines


def dependency_notes(old: dict[str, str], new: dict[str, str]) -> str:
    """A release-notes section for :func:`dependency_changes` ("" when nothing changed)."""
    lines = dependency_changes(old, new)
    return "### Dependencies\n" + "\n".join(f"- {line}" for line in lines) if lines else ""
