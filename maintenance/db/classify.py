"""Classify a database file against the migrations this build of the app has.

Reads only: ``django_migrations`` and the fingerprint ledger through a
read-only connection, so the cost does not grow with the database's size and
a broken file is never modified.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.db.migrations.loader import MigrationLoader

from maintenance import exceptions
from maintenance.db import fingerprints
from maintenance.db.sqlite_tools import has_sqlite_header, list_tables, open_readonly

Key = tuple[str, str]

NEW, EMPTY, LEGACY, MANAGED = "new", "empty", "legacy", "managed"


def label(key: Key) -> str:
    return f"{key[0]}.{key[1]}"


@dataclass
class Classification:
    """What the database is, and what this build would do to it."""

    kind: str
    db_path: Path
    applied: list[Key] = field(default_factory=list)
    pending: list[Key] = field(default_factory=list)
    unknown: list[Key] = field(default_factory=list)  # applied, not in this build
    missing_apps: list[str] = field(default_factory=list)  # our apps whose migrations vanished
    mismatches: list[Key] = field(default_factory=list)  # fingerprint differs from the code
    unrecorded: list[Key] = field(default_factory=list)  # applied before the ledger existed

    @property
    def fingerprint_status(self) -> str:
        if self.mismatches:
            return "mismatch: " + ", ".join(label(k) for k in self.mismatches)
        if self.unrecorded:
            return f"{len(self.unrecorded)} applied migration(s) not yet fingerprinted"
        return "all applied migrations match"

    def raise_for_problems(self) -> None:
        """Raise the typed error for a database this build must not touch."""
        if self.kind == LEGACY:
            raise exceptions.LegacyDatabaseError(
                "This database was not created by this version of AurSwift and cannot be upgraded safely. "
                "You can keep it aside and start with a fresh database.",
                db_path=self.db_path,
            )
        if self.missing_apps:
            raise exceptions.MigrationsMissingError(
                "This installation is missing its database migration files for: "
                + ", ".join(self.missing_apps)
                + ". Reinstall AurSwift; the database was not changed.",
                missing_apps=self.missing_apps,
            )
        if self.unknown:
            raise exceptions.DatabaseAheadError(
                "This database was upgraded by a newer version of AurSwift. Install that version (or newer) "
                "to use it; nothing was changed.",
                unknown=[label(k) for k in self.unknown],
            )
        if self.mismatches:
            raise exceptions.FingerprintMismatchError(
                "An already applied database migration was changed in this version of the app: "
                + ", ".join(label(k) for k in self.mismatches)
                + ". Nothing was changed.",
                mismatches=[label(k) for k in self.mismatches],
            )


def load_migrations() -> MigrationLoader:
    """Return Django's migration loader for the code on disk (no database needed)."""
    return MigrationLoader(None, ignore_no_migrations=True)


def plan_for(loader: MigrationLoader, applied: set[Key]) -> list[Key]:
    """Return the migrations to apply, in dependency order."""
    plan: list[Key] = []
    seen = set(applied)
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                plan.append(node)
    return plan


def _read_state(db_path: Path) -> tuple[list[str], list[Key], dict[Key, str]]:
    try:
        with open_readonly(db_path) as conn:
            tables = list_tables(conn)
            applied: list[Key] = []
            ledger: dict[Key, str] = {}
            if "django_migrations" in tables:
                applied = [(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]
                ledger = fingerprints.read_ledger(conn)
            return tables, applied, ledger
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            raise exceptions.DatabaseLockedError(
                "The database is in use by another program. Close it and try again.", detail=str(err)
            ) from err
        raise exceptions.DatabaseCorruptError(
            f"The database file cannot be read: {err}.", db_path=db_path, detail=str(err)
        ) from err
    except sqlite3.DatabaseError as err:
        raise exceptions.DatabaseCorruptError(
            f"The database file is damaged: {err}.", db_path=db_path, detail=str(err)
        ) from err


def classify(
    db_path: Path, loader: MigrationLoader | None = None, *, check_fingerprints: bool = True
) -> Classification:
    """Return the classification of ``db_path``; raise DatabaseCorruptError for an unreadable file."""
    loader = loader or load_migrations()
    if not db_path.exists():
        return Classification(NEW, db_path, pending=plan_for(loader, set()))
    if db_path.stat().st_size == 0:
        return Classification(EMPTY, db_path, pending=plan_for(loader, set()))
    if not has_sqlite_header(db_path):
        raise exceptions.DatabaseCorruptError(
            "The database file is damaged: it is not an SQLite database (bad header).", db_path=db_path
        )
    tables, applied, ledger = _read_state(db_path)
    if not tables:
        return Classification(EMPTY, db_path, pending=plan_for(loader, set()))
    if "django_migrations" not in tables:
        return Classification(LEGACY, db_path)

    known = set(loader.graph.nodes)
    ours = {cfg.label for cfg in apps.get_app_configs()}
    applied_set = set(applied)
    result = Classification(MANAGED, db_path, applied=applied)
    result.missing_apps = sorted(
        {app for app, _ in applied if app in ours and app not in loader.migrated_apps and app in _local_apps()}
    )
    result.unknown = [k for k in applied if k not in known and k[0] not in result.missing_apps]
    result.pending = plan_for(loader, applied_set)
    if check_fingerprints:
        for key in applied:
            if key not in known:
                continue
            recorded = ledger.get(key)
            if recorded is None:
                result.unrecorded.append(key)
            elif recorded != fingerprints.fingerprint(loader.graph.nodes[key]):
                result.mismatches.append(key)
    return result


def _local_apps() -> set[str]:
    """Return the labels of the apps that ship with AurSwift (their migrations must be present)."""
    from django.conf import settings

    root = settings.BASE_DIR
    return {cfg.label for cfg in apps.get_app_configs() if Path(cfg.path).is_relative_to(root)}
