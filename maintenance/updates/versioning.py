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
