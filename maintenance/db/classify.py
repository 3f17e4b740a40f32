"""Classify a database file against the migrations this build of the app has.

Reads only: ``django_migrations`` and the fingerprint ledger through a
read-only connection, so the cost does not grow with the database's size and
a broken file is never modified.

Squashed migrations follow Django's own rule (``MigrationLoader.build_graph``)
applied to the rows read from the file: a squash whose replaced migrations
are all applied counts as applied, one with none applied replaces them, and a
partially applied one is dropped in favour of the originals. Replaced
migrations recorded in the file are therefore never "unknown".

Fingerprints (see :mod:`fingerprints`): an applied migration of the
project's own apps whose fingerprint differs is a mismatch (refused); a ledger
value of an older scheme, or a changed fingerprint of a third-party app's
migration (Django, allauth… — their releases are not ours to refuse), is
re-fingerprinted instead (``unrecorded``, reported in ``carried_over`` /
``third_party_changed``).
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader

from maintenance import exceptions
from maintenance.db import busy, fingerprints
from maintenance.db.sqlite_tools import has_sqlite_header, list_tables, open_readonly

Key = tuple[str, str]


class Kind(enum.StrEnum):
    """What a database file is, before anything is done to it."""

    NEW = "new"  # no file
    EMPTY = "empty"  # a file without tables
    LEGACY = "legacy"  # tables, but no django_migrations: not ours to upgrade
    MANAGED = "managed"  # Django's migrations table: ours


NEW, EMPTY, LEGACY, MANAGED = Kind.NEW, Kind.EMPTY, Kind.LEGACY, Kind.MANAGED


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
    unrecorded: list[Key] = field(default_factory=list)  # to (re-)fingerprint: applied before the ledger existed…
    carried_over: list[Key] = field(default_factory=list)  # …or recorded by an older fingerprint scheme…
    third_party_changed: list[Key] = field(default_factory=list)  # …or changed by a third-party app's release

    @property
    def fingerprint_status(self) -> str:
        if self.mismatches:
            return "mismatch: " + ", ".join(label(k) for k in self.mismatches)
        if self.carried_over:
            return f"{len(self.carried_over)} fingerprint(s) from an older scheme to carry over"
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
    """Return Django's migration loader for the code on disk (no database needed).

    Its graph is the one for a database with nothing applied (a squash stands
    in for the migrations it replaces); :func:`plan_for` and :func:`classify`
    rebuild it for the rows a database actually has.
    """
    return MigrationLoader(None, ignore_no_migrations=True)


class FileStateLoader(MigrationLoader):
    """Django's loader as it would be for a database whose applied rows are ``applied``.

    ``MigrationLoader`` reads the applied rows through a connection; here they
    come from the file (read-only). ``build_graph`` is Django's, with the rows
    given instead of queried, so squashed migrations are resolved exactly as
    ``migrate`` will resolve them.
    """

    def __init__(self, disk: MigrationLoader, applied: set[Key]) -> None:
        self._disk, self._rows = disk, set(applied)
        super().__init__(None, ignore_no_migrations=True)

    def load_disk(self) -> None:
        self.disk_migrations = self._disk.disk_migrations
        self.migrated_apps = self._disk.migrated_apps
        self.unmigrated_apps = self._disk.unmigrated_apps

    def build_graph(self) -> None:
        self.load_disk()
        self.applied_migrations = dict.fromkeys(self._rows)  # type: ignore[assignment]  # Django tests membership only
        self.graph = MigrationGraph()
        self.replacements = {}
        for key, migration in self.disk_migrations.items():
            self.graph.add_node(key, migration)
            if migration.replaces:
                self.replacements[key] = migration
        for key, migration in self.disk_migrations.items():
            self.add_internal_dependencies(key, migration)
        for key, migration in self.disk_migrations.items():
            self.add_external_dependencies(key, migration)
        for key, migration in self.replacements.items():
            statuses = [target in self.applied_migrations for target in migration.replaces]
            if all(statuses):
                self.applied_migrations[key] = migration
            else:
                self.applied_migrations.pop(key, None)
            if all(statuses) or not any(statuses):
                self.graph.remove_replaced_nodes(key, migration.replaces)
            else:
                self.graph.remove_replacement_node(key, migration.replaces)
        self.graph.validate_consistency()
        self.graph.ensure_not_cyclic()

    def replaced_by_usable_squash(self) -> set[Key]:
        """Return the migrations a squash in the graph stands in for."""
        return {
            target for key, squash in self.replacements.items() if key in self.graph.nodes for target in squash.replaces
        }


def plan_for(loader: MigrationLoader, applied: set[Key]) -> list[Key]:
    """Return the migrations to apply, in dependency order (as ``migrate`` would)."""
    return _plan(FileStateLoader(loader, applied), applied)


def _plan(view: FileStateLoader, applied: set[Key]) -> list[Key]:
    plan: list[Key] = []
    seen = set(applied) | set(view.applied_migrations)
    for leaf in sorted(view.graph.leaf_nodes()):
        for node in view.graph.forwards_plan(leaf):
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
        if busy.is_busy(err):
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

    ours = {cfg.label for cfg in apps.get_app_configs()}
    local = _local_apps()
    applied_set = set(applied)
    view = FileStateLoader(loader, applied_set)
    known = set(view.graph.nodes) | set(loader.disk_migrations) | view.replaced_by_usable_squash()
    result = Classification(MANAGED, db_path, applied=applied)
    result.missing_apps = sorted(
        {app for app, _ in applied if app in ours and app not in loader.migrated_apps and app in local}
    )
    result.unknown = [k for k in applied if k not in known and k[0] not in result.missing_apps]
    result.pending = _plan(view, applied_set)
    if check_fingerprints:
        _check_fingerprints(result, loader, ledger, local)
    return result


def _check_fingerprints(
    result: Classification, loader: MigrationLoader, ledger: dict[Key, str], local: set[str]
) -> None:
    for key in result.applied:
        migration = loader.disk_migrations.get(key)
        if migration is None:
            continue  # unknown, or replaced by a squash and deleted
        recorded = ledger.get(key)
        if recorded is not None and fingerprints.is_current(recorded):
            if recorded == fingerprints.fingerprint(migration):
                continue
            if key[0] in local:
                result.mismatches.append(key)
                continue
            result.third_party_changed.append(key)
        elif recorded is not None:
            result.carried_over.append(key)
        result.unrecorded.append(key)


def _local_apps() -> set[str]:
    """Return the labels of the apps that ship with AurSwift (their migrations must be present)."""
    from django.conf import settings

    root = Path(settings.BASE_DIR).resolve()
    return {
        cfg.label
        for cfg in apps.get_app_configs()
        if Path(cfg.path).resolve().is_relative_to(root)
        and not fingerprints.is_third_party_path(Path(cfg.path).resolve())
    }
