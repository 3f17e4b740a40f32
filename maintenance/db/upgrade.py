"""The guarded database upgrade (DESIGN.md section 4).

One service for the desktop start-up, ``manage.py upgrade_db`` and the tests:
classify → (fast path) or integrity → disk → verified backup → apply with
Django's executor → verify → on any failure restore the backup and prove the
database is what it was.

Django on SQLite commits each migration separately, so a failure in migration
k of n leaves 1..k-1 applied; the backup, not a transaction, makes the run
all-or-nothing. A marker file (``upgrade-in-progress.json``) written before
the first migration lets the next start finish the job after a crash: it
restores that backup and upgrades again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from aurswift import __version__
from aurswift.paths import backups_dir
from maintenance import exceptions
from maintenance.db import backups, fingerprints, history, testhooks
from maintenance.db.classify import EMPTY, MANAGED, NEW, Classification, classify, label, load_migrations
from maintenance.db.diskspace import ensure_space
from maintenance.db.integrity import check_file, check_in_parallel
from maintenance.db.progress import ProgressCallback, emit
from maintenance.db.sqlite_tools import sha256_file

log = logging.getLogger(__name__)
UPGRADE_MARKER = "upgrade-in-progress.json"
LOCK_RETRIES = 3


@dataclass
class UpgradeReport:
    outcome: str  # up_to_date | upgraded | planned
    classification: str
    pending: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    backup: backups.BackupInfo | None = None
    duration_s: float = 0.0
    from_version: str | None = None
    to_version: str = __version__

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "classification": self.classification,
            "pending": self.pending,
            "applied": self.applied,
            "backup": str(self.backup.path) if self.backup else None,
            "duration_s": round(self.duration_s, 3),
            "from_version": self.from_version,
            "to_version": self.to_version,
            "exit_code": 0,
        }


def live_db_path() -> Path:
    """Return the configured SQLite database file."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        raise exceptions.MaintenanceError(
            "The guarded upgrade supports the embedded SQLite database only in this version."
        )
    return Path(db["NAME"])


def retention() -> int:
    """Return how many automatic backups to keep (the managers' setting, or the default)."""
    from maintenance.db.preferences import backup_retention

    return backup_retention(settings.DATA_DIR)


# --- Recovery from a crash in an earlier run ----------------------------------
def finish_interrupted_runs(db_path: Path, progress: ProgressCallback | None = None) -> Path | None:
    """Put the database back in a known state after a crash mid-upgrade or mid-restore.

    Return the backup that was restored, if any.
    """
    backups.clean_partial_files(backups_dir(settings.DATA_DIR))
    restored = backups.finish_interrupted_restore(db_path)
    marker = db_path.parent / UPGRADE_MARKER
    if marker.exists():
        backup_path = Path(json.loads(marker.read_text(encoding="utf-8"))["backup"])
        emit(progress, "restore", "The last upgrade was interrupted: restoring the backup taken before it…")
        backups.restore_backup(backup_path, db_path, progress=progress)
        marker.unlink()
        history.append_run(
            settings.DATA_DIR,
            {
                "started_at": _now(),
                "finished_at": _now(),
                "outcome": "interrupted_run_restored",
                "backup": str(backup_path),
                "to_version": __version__,
            },
        )
        restored = backup_path
    return restored


# --- Applying migrations ------------------------------------------------------
@contextlib.contextmanager
def deferred_foreign_key_check(connection) -> Iterator[None]:
    """Skip the whole-database foreign-key check Django's SQLite schema editor runs per migration.

    ``DatabaseSchemaEditor.__exit__`` calls ``connection.check_constraints()``,
    a ``PRAGMA foreign_key_check`` over every table, after *each* migration —
    on a large database that dominates the run. Inside the guarded upgrade a
    verified backup is the safety net, so one check at the end (the verify
    step) is enough: a violation then restores the backup. Only this
    connection object is affected, only for the ``with`` block.
    """
    if connection.vendor != "sqlite":
        yield
        return
    connection.check_constraints = lambda table_names=None: None
    try:
        yield
    finally:
        del connection.check_constraints


def apply_migrations(progress: ProgressCallback | None) -> list[str]:
    """Apply every pending migration with Django's executor; return what was applied."""
    connection = connections["default"]
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets)
    total = len(plan)
    applied: list[str] = []

    def callback(action: str, migration=None, fake: bool = False) -> None:
        if action == "apply_start":
            emit(
                progress,
                "migrate",
                f"Applying migration {len(applied) + 1} of {total}: {migration.app_label}.{migration.name}",
                current=len(applied) + 1,
                total=total,
            )
        elif action == "apply_success":
            # The migration's own transaction has committed: record its fingerprint now.
            fingerprints.write_fingerprints(
                connection.connection,
                [(migration.app_label, migration.name, fingerprints.fingerprint(migration))],
                source="applied",
            )
            applied.append(f"{migration.app_label}.{migration.name}")
            if len(applied) == 1 and total > 1:
                testhooks.pause_if("during_migration")

    executor.progress_callback = callback
    emit_pre_migrate_signal(0, False, connection.alias, apps=executor.loader.project_state().apps, plan=plan)
    with deferred_foreign_key_check(connection):
        state = executor.migrate(targets, plan=plan)
    emit_post_migrate_signal(0, False, connection.alias, apps=state.apps, plan=plan)
    return applied


# --- The guarded run ----------------------------------------------------------
def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _classify_with_retries(db_path: Path) -> Classification:
    for attempt in range(1, LOCK_RETRIES + 1):
        try:
            return classify(db_path, load_migrations())
        except exceptions.DatabaseLockedError:
            if attempt == LOCK_RETRIES:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def adopt_unrecorded(result: Classification) -> None:
    """Fingerprint migrations applied before the ledger existed (e.g. by plain ``migrate``)."""
    if not result.unrecorded:
        return
    loader = load_migrations()
    conn = sqlite3.connect(result.db_path, timeout=10)
    try:
        fingerprints.write_fingerprints(
            conn,
            [(a, n, fingerprints.fingerprint(loader.graph.nodes[(a, n)])) for a, n in result.unrecorded],
            source="adopted",
        )
    finally:
        conn.close()


def run_guarded_upgrade(
    *, progress: ProgressCallback | None = None, plan_only: bool = False, reason: str = "startup"
) -> UpgradeReport:
    """Bring the configured database up to this build's migrations, or refuse, or restore.

    Raise the typed errors of :mod:`maintenance.exceptions`; the database is
    either unchanged, fully upgraded, or restored from the backup made here.
    """
    started = time.perf_counter()
    db_path = live_db_path()
    connections.close_all()
    if not plan_only:
        finish_interrupted_runs(db_path, progress)
    emit(progress, "classify", "Checking the database…")
    result = _classify_with_retries(db_path)
    result.raise_for_problems()
    pending = [label(k) for k in result.pending]
    if plan_only:
        return UpgradeReport("planned", result.kind, pending=pending, duration_s=time.perf_counter() - started)
    if result.kind == MANAGED and not pending:
        adopt_unrecorded(result)
        emit(progress, "done", "The database is up to date.", percent=100.0)
        return UpgradeReport("up_to_date", MANAGED, duration_s=time.perf_counter() - started)
    if result.kind in (NEW, EMPTY):
        return _create_database(result, pending, progress, started, reason)
    return _upgrade_existing(result, pending, progress, started, reason)


def _create_database(
    result: Classification, pending: list[str], progress: ProgressCallback | None, started: float, reason: str
) -> UpgradeReport:
    """Migrate a new or empty database: there is nothing to lose, so no backup."""
    emit(progress, "migrate", "Creating the database…", current=0, total=len(pending))
    applied = apply_migrations(progress)
    connections.close_all()
    report = UpgradeReport(
        "upgraded", result.kind, pending=pending, applied=applied, duration_s=time.perf_counter() - started
    )
    history.append_run(
        settings.DATA_DIR,
        {
            "started_at": _now(),
            "finished_at": _now(),
            "from_version": None,
            "to_version": __version__,
            "applied": applied,
            "duration_s": round(report.duration_s, 3),
            "outcome": "created",
            "backup": None,
            "reason": reason,
        },
    )
    emit(progress, "done", "The database is ready.", percent=100.0)
    return report


def _upgrade_existing(
    result: Classification, pending: list[str], progress: ProgressCallback | None, started: float, reason: str
) -> UpgradeReport:
    db_path = result.db_path
    data_dir: Path = settings.DATA_DIR
    started_at = _now()
    from_version = _last_version(data_dir)
    entry: dict[str, object] = {
        "started_at": started_at,
        "from_version": from_version,
        "to_version": __version__,
        "pending": pending,
        "reason": reason,
    }

    emit(progress, "disk", "Checking free disk space…")
    ensure_space(db_path)

    testhooks.pause_if("before_backup")
    adopt_unrecorded(result)
    backup = _checked_backup(db_path, data_dir, progress)
    entry["backup"] = str(backup.path)
    testhooks.pause_if("after_backup")
    marker = db_path.parent / UPGRADE_MARKER
    backups.write_json_atomic(marker, {"backup": str(backup.path), "started_at": started_at})

    step = "migrate"
    applied: list[str] = []
    try:
        applied = apply_migrations(progress)
        step = "verify"
        connections.close_all()
        emit(progress, "verify", "Verifying the upgraded database…")
        verify = check_in_parallel(db_path)
        if not verify.ok:
            raise exceptions.MaintenanceError(f"verification failed: {verify.summary}")
    except Exception as err:  # noqa: BLE001 - any failure means: put the backup back
        _restore_after_failure(db_path, backup, step, err, entry, started, progress)
        raise AssertionError("unreachable") from err

    marker.unlink()
    removed = backups.prune_backups(backups_dir(data_dir), keep=retention(), protect=backup.path)
    report = UpgradeReport(
        "upgraded",
        MANAGED,
        pending=pending,
        applied=applied,
        backup=backup,
        duration_s=time.perf_counter() - started,
        from_version=from_version,
    )
    entry.update(
        {
            "finished_at": _now(),
            "applied": applied,
            "duration_s": round(report.duration_s, 3),
            "outcome": "upgraded",
            "pruned": [p.name for p in removed],
        }
    )
    history.append_run(data_dir, entry)
    emit(progress, "done", f"Database upgraded ({len(applied)} migration(s)).", percent=100.0)
    return report


def _checked_backup(db_path: Path, data_dir: Path, progress: ProgressCallback | None) -> backups.BackupInfo:
    """Check integrity (quick_check + foreign keys) and make the backup at the same time.

    Both only read the database, and SQLite releases the GIL, so on two cores
    the check costs almost no extra wall time. A failed check discards the
    backup and refuses the upgrade: nothing else has been changed.
    """
    emit(progress, "integrity", "Checking the database's integrity…")

    def backup_progress(p) -> None:
        if progress:
            progress(p)
        if p.percent is not None and 0 < p.percent < 100:
            testhooks.pause_if("during_backup")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="integrity") as pool:
        pending = pool.submit(check_file, db_path, full=False, foreign_keys=True)
        backup: backups.BackupInfo | None = None
        failure: Exception | None = None
        try:
            backup = backups.create_backup(
                db_path, backups_dir(data_dir), reason="before_migration", progress=backup_progress
            )
        except (exceptions.BackupError, sqlite3.DatabaseError) as err:
            failure = err
        check = pending.result()
    if not check.ok:
        if backup is not None:
            backups.discard(backup.path)
        raise exceptions.DatabaseCorruptError(
            f"The database failed its integrity check ({check.summary}); it was not changed.",
            db_path=db_path,
            problems=check.problems[:20],
        )
    if isinstance(failure, sqlite3.DatabaseError):
        raise exceptions.BackupError(f"The database could not be backed up: {failure}.") from failure
    if failure is not None:
        raise failure
    assert backup is not None
    return backup


def _restore_after_failure(
    db_path: Path,
    backup: backups.BackupInfo,
    step: str,
    err: BaseException,
    entry: dict[str, object],
    started: float,
    progress: ProgressCallback | None,
) -> None:
    """Restore the backup after a failed step, prove it, record it, and raise the typed error."""
    log.exception("Guarded upgrade failed during %s; restoring %s", step, backup.path)
    connections.close_all()
    emit(progress, "restore", "The upgrade failed. Restoring the backup…")
    testhooks.pause_if("during_restore")
    entry.update(
        {
            "finished_at": _now(),
            "duration_s": round(time.perf_counter() - started, 3),
            "failed_step": step,
            "error": str(err),
        }
    )
    try:
        backups.restore_backup(backup.path, db_path, progress=progress)
        if sha256_file(db_path) != backup.sha256:
            raise exceptions.RestoreFailedError(
                f"The restored database does not match the backup. The backup is kept at {backup.path}.",
                backup_path=backup.path,
            )
    except exceptions.RestoreFailedError:
        entry["outcome"] = "restore_failed"
        history.append_run(settings.DATA_DIR, entry)
        raise
    (db_path.parent / UPGRADE_MARKER).unlink(missing_ok=True)
    entry["outcome"] = "failed_restored"
    history.append_run(settings.DATA_DIR, entry)
    raise exceptions.MigrationFailedError(
        f"The database upgrade failed while {_STEP_WORDS.get(step, step)} ({err}). "
        f"Your data was restored from the backup made just before: {backup.path.name}.",
        backup_path=backup.path,
        failed_step=step,
        cause=str(err),
    ) from err


_STEP_WORDS = {"migrate": "applying migrations", "verify": "verifying the result"}


def _last_version(data_dir: Path) -> str | None:
    for run in history.read_history(data_dir):
        if run.get("outcome") in {"upgraded", "created"}:
            return str(run.get("to_version"))
    return None
