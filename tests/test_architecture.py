"""Layers import one way (docs/architecture.md): walk every import of the apps and refuse a forbidden edge.

Function-local imports count too: hiding an upward import inside a function
does not make the layers any less tangled.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT

FORBIDDEN = [
    ("pos", "maintenance"),
    ("pos", "aurswift"),
    ("maintenance/db", "aurswift"),
    ("maintenance/db", "pos"),
    ("maintenance/db", "maintenance.updates"),
    ("maintenance/db", "maintenance.management"),
    ("maintenance", "aurswift.startup"),
    ("maintenance/updates", "pos"),
    ("aurswift", "maintenance.admin_views"),  # views are leaves: shared helpers live in services
    ("maintenance/db", "maintenance.admin_views"),
]


def imported_modules(path: Path) -> set[str]:
    """Return every module ``path`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _sources(package: str) -> list[Path]:
    return [p for p in sorted((REPO_ROOT / package).rglob("*.py")) if "migrations" not in p.parts]


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN, ids=[f"{a}-not-{b}" for a, b in FORBIDDEN])
def test_no_forbidden_imports(package: str, forbidden: str) -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in _sources(package)
        for module in sorted(imported_modules(path))
        if module == forbidden or module.startswith(forbidden + ".")
    ]
    assert offenders == []


def test_the_checker_sees_a_hidden_upward_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from aurswift.startup import state\n    import pos.models\n")
    assert {"aurswift.startup", "aurswift.startup.state", "pos.models"} <= imported_modules(sample)
