"""The guarded database upgrade (docs/design.md section 4).

One service for the desktop start-up, ``manage.py upgrade_db`` and the tests:
classify → (fast path) or integrity → disk → verified backup → apply with
Django's executor → verify → on any failure restore the backup and prove the
database is what it was.

Django on SQLite commits each migration separately, so a failure in migration
k of n leaves 1..k-1 applied; the backup, not a transaction, makes the run
all-or-nothing. A marker file (``upgrade-in-progress.json``) written before
the first migration lets the next start finish the job after a crash: it
restores that backup and upgrades again.

The pre-upgrade checks (``quick_check``, ``foreign_key_check``) read a
snapshot pinned before the backup's copy, and run while the copy and then
the migrations go on (:class:`SnapshotChecks`); the run waits for them before
it counts as done. Damage they find undoes the migrations from the backup
(byte for byte the database they checked) and ends the run as a damaged
database always did: refused, exit 2, the database as it was.

Every path and the version come in one :class:`~maintenance.config.MaintenanceConfig`.
A busy database is retried here and nowhere else (:mod:`maintenance.db.busy`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from maintenance import exceptions
from maintenance.config import MaintenanceConfig
from maintenance.db import (
    backups,
    busy,
    fingerprints,
    history,
    interrupts,
    markers,
    moves,
    priority,
    testhooks,
    writer_lock,
)
from maintenance.db.classify import EMPTY, MANAGED, NEW, Classification, classify, label, load_migrations
from maintenance.db.diskspace import ensure_space
from maintenance.db.integrity import (
    MMAP_BYTES,
    IntegrityResult,
    Stopper,
    check_connection,
    check_in_parallel,
    check_touched,
    combine,
    schema_only,
)
from maintenance.db.progress import ProgressCallback, Step, emit
from maintenance.db.sqlite_tools import pinned_snapshot, roll_back_hot_journal, sha256_file, side_files, wal_path
from maintenance.files import read_json, write_json_atomic

log = logging.getLogger(__name__)
UPGRADE_MARKER = markers.UPGRADE_MARKER


@dataclass
class UpgradeReport:
    outcome: str  # up_to_date | upgraded | planned
    classification: str
    pending: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    backup: backups.BackupInfo | None = None
    duration_s: float = 0.0
    from_version: str | None = None
    to_version: str = ""

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


def retention(data_dir: Path) -> int:
    """Return how many automatic backups to keep (the managers' setting, or the default)."""
    from maintenance.db.preferences import backup_retention

    return backup_retention(data_dir)


# --- Recovery from a crash in an earlier run ----------------------------------
def file_state(db_path: Path) -> dict[str, list[int] | None]:
    """Return (size, mtime, inode) of the database and its write-ahead log: any commit changes it."""
    state: dict[str, list[int] | None] = {}
    for key, path in (("db", db_path), ("wal", wal_path(db_path))):
        try:
            st = path.stat()
            state[key] = [st.st_size, st.st_mtime_ns, st.st_ino]
        except FileNotFoundError:
            state[key] = None
    return state


def _remove_leftovers(config: MaintenanceConfig) -> None:
    """Remove temporary files a killed run left: half-written backups, restore copies, repair scratch folders."""
    db_path = config.db_path
    backups.clean_partial_files(config.backups_dir)
    for suffix in (".restore-tmp", ".repair-tmp"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    for scratch in db_path.parent.glob(".repair-*"):
        if scratch.is_dir():
            shutil.rmtree(scratch, ignore_errors=True)


def finish_interrupted_runs(config: MaintenanceConfig, progress: ProgressCallback | None = None) -> Path | None:
    """Put the database back in a known state after a crash mid-upgrade, mid-restore or mid-recovery.

    Runs under the maintenance lock, before anything opens the database.
    Return the backup that was restored, if any. An upgrade counts as
    interrupted only when the process that started it is gone; and if the
    live file changed after that run stopped (someone wrote to it), it is kept
    aside rather than overwritten, so no start ever loses committed writes.
    """
    db_path = config.db_path
    moves.resume(db_path.parent)
    _remove_leftovers(config)
    restored = backups.finish_interrupted_restore(db_path)
    marker_path = db_path.parent / UPGRADE_MARKER
    marker = read_json(marker_path)
    if marker is None:
        marker_path.unlink(missing_ok=True)
        return restored
    markers.refuse_if_running(marker)
    backup_path = Path(marker["backup"])
    entry: dict[str, object] = {
        "started_at": _now(),
        "outcome": "interrupted_run_restored",
        "backup": str(backup_path),
        "to_version": config.app_version,
    }
    # A run that was already restoring had thrown its output away; otherwise any change of the files
    # since its last committed step may be a write by someone else, and is kept. (It may also be the
    # run's own unfinished transaction, spilled into the log; telling the two apart for sure means
    # checksumming the whole log, so the file is kept aside either way: safe, and said plainly.)
    live_changed = (
        not marker.get("restoring")
        and db_path.exists()
        and marker.get("state") is not None
        and file_state(db_path) != marker["state"]
    )
    if live_changed:
        old = moves.kept_aside_name(db_path)
        moves.run(db_path.parent, "keep_aside", moves.keep_aside_moves(db_path, old))
        entry["kept_aside"] = old.name
        log.warning("the database's files changed after an interrupted upgrade; kept aside as %s", old.name)
        emit(
            progress,
            Step.RESTORE,
            f"The database's files changed after the upgrade was interrupted (by its own unfinished step or by "
            f"another program); the file as it was is kept as {old.name}.",
        )
    if not backup_path.exists():
        raise exceptions.RestoreFailedError(
            f"The last upgrade was interrupted and its backup {backup_path.name} is missing. "
            "Nothing more was changed; restore a backup from the admin or the command line.",
            backup_path=backup_path,
        )
    emit(progress, Step.RESTORE, "The last upgrade was interrupted: restoring the backup taken before it…")
    backups.restore_backup(backup_path, db_path, progress=progress, reclaim_space=not live_changed)
    marker_path.unlink(missing_ok=True)
    entry["finished_at"] = _now()
    history.append_run(config.data_dir, entry)
    return backup_path


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


def apply_migrations(progress: ProgressCallback | None, on_applied: Callable[[], None] | None = None) -> list[str]:
    """Apply every pending migration with Django's executor; return what was applied.

    Whatever a migration prints goes to stderr: stdout belongs to the command's result.
    """
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
            if on_applied is not None:
                on_applied()
            if len(applied) == 1 and total > 1:
                testhooks.pause_if("during_migration")

    executor.progress_callback = callback  # type: ignore[assignment]  # Django's stub says (action) only
    with contextlib.redirect_stdout(sys.stderr):
        emit_pre_migrate_signal(0, False, connection.alias, apps=executor.loader.project_state().apps, plan=plan)
        with deferred_foreign_key_check(connection):
            state = executor.migrate(targets, plan=plan)
        emit_post_migrate_signal(0, False, connection.alias, apps=state.apps, plan=plan)
    return applied


# --- The pre-upgrade checks, beside the backup and the migrations -------------
def _check_then_let_go(conn: sqlite3.Connection, *, structure: bool) -> IntegrityResult:
    """Check what ``conn``'s read transaction sees, then end it (the log may be checkpointed again)."""
    try:
        return check_connection(conn, structure=structure, foreign_keys=not structure)
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("COMMIT")


class SnapshotChecks:
    """``quick_check`` and ``foreign_key_check`` of the database as it is before the run, in two threads.

    Both read one snapshot, pinned (:func:`pinned_snapshot`) just before the
    backup copies it: under the maintenance lock nobody else writes, so it
    is byte for byte what the backup holds. The pin is two read transactions
    that began on a fully checkpointed log, so they read only the main file;
    while either lasts, no checkpoint may copy a frame into it, and the
    migrations' commits stay in the write-ahead log. So the checks can run
    while the copy and then the migrations go on, and still check the
    database as it was. Each ends its read transaction as soon as it is done:
    until then the log keeps what the migrations wrote (no more than they
    write, and it is dropped with the rest if the backup is put back).

    The run waits for ``quick_check``, the longer of the two; the
    foreign-key check runs at low priority (:func:`priority.lowered`), as the
    backup's copy does, so the check keeps a core of its own on two cores
    (a one-migration release on 1 GB: 6.5 s → 5.4 s, benchmarks/RESULTS.md).

    Kill safety is the run's as before: the marker is written after the
    backup and before the first migration, and a kill while the checks run
    is a kill mid-run (the next start restores the backup). The checks never
    write; a killed process's read transactions end with it.

    Only for a database in WAL mode: in rollback-journal mode the readers'
    shared locks would keep the migrations from committing. ``start`` returns
    ``None`` then, or when the snapshot cannot be pinned in time, and the
    caller checks beside the copy and waits before migrating.
    """

    def __init__(self, stack: contextlib.ExitStack, readers: list[sqlite3.Connection]) -> None:
        self._stack, self._readers = stack, readers
        self._released = False
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pre-check")
        stack.callback(pool.shutdown)  # runs before the pin is released: the threads are done by then
        self._futures: list[Future[IntegrityResult]] = [
            pool.submit(_check_then_let_go, readers[0], structure=True),
            pool.submit(priority.lowered(_check_then_let_go), readers[1], structure=False),
        ]

    @classmethod
    def start(cls, db_path: Path) -> SnapshotChecks | None:
        stack = contextlib.ExitStack()
        try:
            readers = stack.enter_context(pinned_snapshot(db_path, readers=2, checkpoint_after=False))
            if readers is None or str(readers[0].execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                stack.close()
                return None
            for conn in readers:  # through a memory map: the file cannot change or shrink while pinned
                conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}").fetchall()
        except sqlite3.Error as err:
            stack.close()
            if busy.is_busy(err):
                raise exceptions.DatabaseLockedError(
                    "The database is busy in another program, so it cannot be backed up now. Try again shortly.",
                    detail=str(err),
                ) from err
            return None  # the checks beside the copy say what is wrong (a damaged file…)
        try:
            return cls(stack, readers)
        except BaseException:
            stack.close()
            raise

    @property
    def done(self) -> bool:
        return all(f.done() for f in self._futures)

    def result(self) -> IntegrityResult:
        """Wait for both checks, release the snapshot and return what they found."""
        try:
            structure, keys = (f.result() for f in self._futures)
        except BaseException:  # Ctrl-C while waiting: stop the checks rather than wait for them
            self.abandon()
            raise
        self._release()
        return combine(structure, keys)

    def abandon(self) -> None:
        """Stop the checks and release the snapshot (the run is ending on another error); again is a no-op."""
        if self._released:
            return
        # An interrupt reaches only a statement already running: repeat it until both checks have ended.
        while not all(f.done() for f in self._futures):
            for conn in self._readers:
                with contextlib.suppress(sqlite3.Error):
                    conn.interrupt()
            wait(self._futures, timeout=0.05)
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._stack.close()


class _NeedsDatabaseAlone(Exception):
    """A migration could not lock the database while the checks beside it read it; the backup is back."""


class _DamageFound(Exception):
    """The pre-upgrade checks found damage after the migrations had started."""

    def __init__(self, check: IntegrityResult) -> None:
        super().__init__(check.summary)
        self.check = check


def _damaged(config: MaintenanceConfig, check: IntegrityResult) -> exceptions.DatabaseCorruptError:
    return exceptions.DatabaseCorruptError(
        f"The database failed its integrity check ({check.summary}); it was not changed.",
        db_path=config.db_path,
        problems=check.problems[:20],
    )


# --- The guarded run ----------------------------------------------------------
def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def adopt_unrecorded(result: Classification) -> None:
    """Fingerprint migrations applied before the ledger existed (e.g. by plain ``migrate``)."""
    if not result.unrecorded:
        return
    loader = load_migrations()
    conn = sqlite3.connect(result.db_path, timeout=busy.POLICY.timeout_s)
    try:
        fingerprints.write_fingerprints(
            conn,
            [(a, n, fingerprints.fingerprint(loader.disk_migrations[(a, n)])) for a, n in result.unrecorded],
            source="adopted",
        )
    finally:
        conn.close()


def run_guarded_upgrade(
    *,
    config: MaintenanceConfig | None = None,
    progress: ProgressCallback | None = None,
    plan_only: bool = False,
    reason: str = "startup",
    db_path: Path | None = None,
    data_dir: Path | None = None,
) -> UpgradeReport:
    """Bring the database up to this build's migrations, or refuse, or restore.

    Raise the typed errors of :mod:`maintenance.exceptions`; the database is
    either unchanged, fully upgraded, or restored from the backup made here.
    Everything but ``plan_only`` runs under the maintenance lock (one writer
    at a time): a second writer is refused, naming the process that holds it.
    A busy database is tried again by :data:`busy.POLICY` (each retry is
    reported as progress); this is the only level that retries.

    ``config`` says which database and data directory (built from settings
    when omitted); ``db_path``/``data_dir`` override its fields (older callers).
    """
    config = config or MaintenanceConfig.from_settings()
    if db_path is not None:
        config = dataclasses.replace(config, db_path=Path(db_path))
    if data_dir is not None:
        config = dataclasses.replace(config, data_dir=Path(data_dir))

    def on_retry(attempt: int) -> None:
        log.warning("the database is busy; trying again (%d)", attempt)
        emit(progress, Step.CLASSIFY, busy.retry_message(attempt))

    return busy.retrying(lambda: _run_once(config, progress, plan_only, reason), on_retry=on_retry)


def _run_once(
    config: MaintenanceConfig, progress: ProgressCallback | None, plan_only: bool, reason: str
) -> UpgradeReport:
    started = time.perf_counter()
    db_path = config.db_path
    connections.close_all()
    if plan_only:
        result = classify(db_path, load_migrations())
        result.raise_for_problems()
        pending = [label(k) for k in result.pending]
        return UpgradeReport(
            "planned",
            result.kind,
            pending=pending,
            duration_s=time.perf_counter() - started,
            to_version=config.app_version,
        )
    with writer_lock.held(config.data_dir):
        finish_interrupted_runs(config, progress)
        roll_back_hot_journal(db_path)
        emit(progress, Step.CLASSIFY, "Checking the database…")
        result = classify(db_path, load_migrations())
        result.raise_for_problems()
        pending = [label(k) for k in result.pending]
        if result.kind == MANAGED and not pending:
            if result.unrecorded:
                _ensure_writable(config, backup=False)
                adopt_unrecorded(result)
            emit(progress, Step.DONE, "The database is up to date.", percent=100.0)
            return UpgradeReport(
                "up_to_date", MANAGED, duration_s=time.perf_counter() - started, to_version=config.app_version
            )
        _ensure_migrating(config)
        _ensure_writable(config, backup=result.kind not in (NEW, EMPTY))
        if result.kind in (NEW, EMPTY):
            return _create_database(config, result, pending, progress, started, reason)
        try:
            return _upgrade_existing(config, result, pending, progress, started, reason)
        except _NeedsDatabaseAlone:  # the backup is back: run again, the checks done before the first migration
            return _upgrade_existing(config, result, pending, progress, started, reason, checks_beside=False)


def _ensure_migrating(config: MaintenanceConfig) -> None:
    """Refuse, before any change, when Django's executor would migrate another file than the one checked."""
    name = connections["default"].settings_dict.get("NAME")
    if not name or Path(name).resolve() != config.db_path.resolve():
        raise exceptions.UpgradeRefused(
            f"The database to upgrade ({config.db_path}) is not the one this app is configured with ({name}). "
            "Nothing was changed."
        )


def _ensure_writable(config: MaintenanceConfig, *, backup: bool) -> None:
    """Refuse up front (exit 2) when the database, its folder or the backups folder cannot be written."""
    db_path = config.db_path
    folders = [db_path.parent] + ([config.backups_dir] if backup else [])
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".aurswift-write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise exceptions.ReadOnlyError(
                f"AurSwift cannot write to {folder} ({err.strerror or err}). Check that the disk is not "
                "read-only or full and that this user may write there. Nothing was changed."
            ) from err
    if db_path.exists() and not os.access(db_path, os.W_OK):
        raise exceptions.ReadOnlyError(
            f"The database file {db_path} is read-only. Make it writable for this user. Nothing was changed."
        )


def _create_database(
    config: MaintenanceConfig,
    result: Classification,
    pending: list[str],
    progress: ProgressCallback | None,
    started: float,
    reason: str,
) -> UpgradeReport:
    """Migrate a new or empty database: there is nothing to lose, so no backup."""
    emit(progress, Step.MIGRATE, "Creating the database…", current=0, total=len(pending))
    db_path = config.db_path
    try:
        applied = apply_migrations(progress)
    except (Exception, SystemExit) as err:  # any failure: a half-created database must not be mistaken for a shop
        connections.close_all()
        for path in (db_path, *side_files(db_path)):
            path.unlink(missing_ok=True)
        log.exception("creating the database failed")
        raise exceptions.MigrationFailedError(
            f"The new database could not be created ({err}). Nothing was kept; the next start tries again.",
            failed_step="migrate",
            cause=str(err),
        ) from err
    connections.close_all()
    report = UpgradeReport(
        "upgraded",
        result.kind,
        pending=pending,
        applied=applied,
        duration_s=time.perf_counter() - started,
        to_version=config.app_version,
    )
    history.append_run(
        config.data_dir,
        {
            "started_at": _now(),
            "finished_at": _now(),
            "from_version": None,
            "to_version": config.app_version,
            "applied": applied,
            "duration_s": round(report.duration_s, 3),
            "outcome": "created",
            "backup": None,
            "reason": reason,
        },
    )
    emit(progress, Step.DONE, "The database is ready.", percent=100.0)
    return report


def _upgrade_existing(
    config: MaintenanceConfig,
    result: Classification,
    pending: list[str],
    progress: ProgressCallback | None,
    started: float,
    reason: str,
    *,
    checks_beside: bool = True,
) -> UpgradeReport:
    """Back up, migrate, verify; put the backup back on any failure.

    ``checks_beside``: the checks of the database as it was read on while the
    migrations run (:class:`SnapshotChecks`). Their open read transactions
    keep a migration from taking the database to itself (``PRAGMA
    journal_mode``); one that fails for that reason raises
    :class:`_NeedsDatabaseAlone` once the backup is back, and the caller runs
    again with ``checks_beside=False``.
    """
    db_path = config.db_path
    started_at = _now()
    from_version = _last_version(config)
    entry: dict[str, object] = {
        "started_at": started_at,
        "from_version": from_version,
        "to_version": config.app_version,
        "pending": pending,
        "reason": reason,
    }

    checks: SnapshotChecks | None = None
    made: backups.BackupInfo | None = None
    try:
        emit(progress, Step.DISK, "Checking free disk space…")
        ensure_space(db_path)

        testhooks.pause_if("before_backup")
        adopt_unrecorded(result)
        emit(progress, Step.INTEGRITY, "Checking the database's integrity…")
        checks = SnapshotChecks.start(db_path)
        if checks is None:
            made = _checked_backup(config, progress, database_version=from_version)
        else:
            made = _backup_beside(checks, config, progress, database_version=from_version)
        entry["backup"] = str(made.path)
        if checks is not None and not checks_beside:
            found, checks = checks.result(), None
            if not found.ok:
                backups.discard(made.path)
                raise _damaged(config, found)
            made = backups.record_checked(made)
        testhooks.pause_if("after_backup")
    except KeyboardInterrupt:
        if checks is not None:
            checks.abandon()
        if made is not None:
            backups.discard(made.path)
        raise exceptions.StoppedError(
            "The upgrade was stopped before it began migrating. Your data was not changed."
        ) from None
    backup = made
    marker = db_path.parent / UPGRADE_MARKER
    owner = writer_lock.owner_record()

    def record_state() -> None:
        # The marker names its owner and the files' state after the last committed step:
        # a later start restores only when the owner is gone and nobody wrote since.
        write_json_atomic(
            marker,
            {"backup": str(backup.path), "started_at": started_at, "owner": owner, "state": file_state(db_path)},
        )

    try:
        record_state()
    except OSError as err:
        backups.discard(backup.path)
        before = checks.result() if checks is not None else None
        if before is not None and not before.ok:
            raise _damaged(config, before) from err
        raise exceptions.ReadOnlyError(
            f"AurSwift cannot write beside the database ({err.strerror or err}). Nothing was changed."
        ) from err

    step = "migrate"
    applied: list[str] = []
    try:
        applied = apply_migrations(progress, on_applied=record_state)
        step = "verify"
        connections.close_all()
        record_state()
        emit(progress, Step.VERIFY, "Verifying the upgraded database…")
        # Schema-only migrations: check what they changed (the backup is the database before them);
        # anything that may write any table (RunPython, RunSQL, custom operations): the whole database.
        disk = load_migrations().disk_migrations
        ran = [disk.get((app, name)) for app, _, name in (label.partition(".") for label in applied)]
        if None not in ran and schema_only(ran):
            verify = check_touched(db_path, backup.path)
        else:
            verify = check_in_parallel(db_path, mmap=True)
        if checks is not None:
            if not checks.done:
                emit(progress, Step.VERIFY, "Finishing the integrity check of the database as it was…")
            testhooks.pause_if("joining_checks")
            before, checks = checks.result(), None
            if not before.ok:
                raise _DamageFound(before)
            backup = backups.record_checked(backup)  # the snapshot checked is the one copied
            record_state()  # releasing the snapshot let the log be checkpointed into the file
        if not verify.ok:
            raise exceptions.MaintenanceError(f"verification failed: {verify.summary}")
        testhooks.pause_if("verify_done")  # a stop up to here puts the backup back (exit 3)
    except _DamageFound as found:
        _restore_after_damage(config, backup, found.check, entry, started, progress)
        raise AssertionError("unreachable") from found
    except (Exception, SystemExit) as err:  # any failure means: put the backup back (sys.exit() in a migration too)
        if checks is not None:
            before, checks = checks.result(), None
            if not before.ok:  # damage was there before the run: that, not its symptom, is the error
                _restore_after_damage(config, backup, before, entry, started, progress)
            if step == "migrate" and busy.is_busy(err):  # it needed the database to itself while the checks read it
                _put_backup_back(
                    config, backup, entry, progress, "A migration needs the database to itself; starting again…"
                )
                raise _NeedsDatabaseAlone from err
        _restore_after_failure(config, backup, step, err, entry, started, progress)
        raise AssertionError("unreachable") from err
    except KeyboardInterrupt as err:  # Ctrl-C: stop at once, and leave the database as it was before the run
        if checks is not None:
            checks.abandon()
        _restore_after_failure(config, backup, step, err, entry, started, progress)
        raise AssertionError("unreachable") from err
    except BaseException:
        if checks is not None:
            checks.abandon()
        raise

    with interrupts.finishing():  # verified: the run is done; Ctrl-C now must not leave its records untrue
        marker.unlink()
        removed = backups.prune_backups(config.backups_dir, keep=retention(config.data_dir), protect=backup.path)
        report = UpgradeReport(
            "upgraded",
            MANAGED,
            pending=pending,
            applied=applied,
            backup=backup,
            duration_s=time.perf_counter() - started,
            from_version=from_version,
            to_version=config.app_version,
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
        history.append_run(config.data_dir, entry)
        emit(progress, Step.DONE, f"Database upgraded ({len(applied)} migration(s)).", percent=100.0)
        return report


def _backup_progress(progress: ProgressCallback | None) -> ProgressCallback:
    def report(p) -> None:
        if progress:
            progress(p)
        if p.percent is not None and 0 < p.percent < 100:
            testhooks.pause_if("during_backup")

    return report


def _backup_beside(
    checks: SnapshotChecks,
    config: MaintenanceConfig,
    progress: ProgressCallback | None,
    *,
    database_version: str | None,
) -> backups.BackupInfo:
    """Back up the database while :class:`SnapshotChecks` run; they go on after it (joined later).

    The copy runs at low priority, as the foreign-key check does: the run
    waits for the longest part, ``quick_check``, which so keeps a core.
    """
    try:
        return backups.create_backup_in_background(
            config.db_path,
            config.backups_dir,
            reason="before_migration",
            progress=_backup_progress(progress),
            database_version=database_version,
            keep_if_stopped=False,
        )
    except Exception as err:
        check = checks.result()
        if not check.ok:
            raise _damaged(config, check) from err
        if isinstance(err, sqlite3.DatabaseError):
            raise exceptions.BackupError(f"The database could not be backed up: {err}.") from err
        raise
    except BaseException:
        checks.abandon()
        raise


def _checked_backup(
    config: MaintenanceConfig, progress: ProgressCallback | None, *, database_version: str | None = None
) -> backups.BackupInfo:
    """Check integrity (quick_check, foreign keys) while the backup is made, and wait for both before migrating.

    The path for a database whose snapshot cannot be pinned for the whole run
    (not in WAL mode, or the pin was not granted in time): ``quick_check`` and
    ``foreign_key_check`` each run in a thread of their own
    (:func:`check_in_parallel`, the foreign-key check through a memory map)
    beside the backup's copy; SQLite and hashlib release the GIL. Under the
    maintenance lock nobody else writes, so the live file checked is the
    snapshot copied. A failed check discards the backup and refuses the
    upgrade: nothing else has been changed.
    """
    db_path = config.db_path
    stopper = Stopper()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="integrity") as pool:
        pending = pool.submit(check_in_parallel, db_path, mmap=True, stopper=stopper)
        backup: backups.BackupInfo | None = None
        failure: Exception | None = None
        try:
            try:
                backup = backups.create_backup_in_background(
                    db_path,
                    config.backups_dir,
                    reason="before_migration",
                    progress=_backup_progress(progress),
                    database_version=database_version,
                    keep_if_stopped=False,
                )
            except (exceptions.BackupError, sqlite3.DatabaseError) as err:
                failure = err
            check = pending.result()
        except BaseException:  # Ctrl-C: stop the checks (the pool would wait for them) and keep no backup
            while not pending.done():  # an interrupt reaches only a running statement: repeat it
                stopper.stop()
                wait([pending], timeout=0.05)
            if backup is not None:
                backups.discard(backup.path)
            raise
    if not check.ok:
        if backup is not None:
            backups.discard(backup.path)
        raise _damaged(config, check)
    if isinstance(failure, sqlite3.DatabaseError):
        raise exceptions.BackupError(f"The database could not be backed up: {failure}.") from failure
    if failure is not None:
        raise failure
    assert backup is not None
    return backups.record_checked(backup)  # under the lock, the file checked is the snapshot copied


def _put_backup_back(
    config: MaintenanceConfig,
    backup: backups.BackupInfo,
    entry: dict[str, object],
    progress: ProgressCallback | None,
    message: str,
) -> None:
    """Restore the run's backup over the database and prove it; RestoreFailedError (recorded) if that fails."""
    db_path = config.db_path
    connections.close_all()
    marker = db_path.parent / UPGRADE_MARKER
    with contextlib.suppress(OSError, ValueError):  # a full disk may refuse even this; the marker stays valid
        write_json_atomic(marker, {**(read_json(marker) or {"backup": str(backup.path)}), "restoring": True})
    emit(progress, Step.RESTORE, message)
    testhooks.pause_if("during_restore")
    try:
        backups.restore_backup(backup.path, db_path, progress=progress, reclaim_space=True)
        if sha256_file(db_path) != backup.sha256:
            raise exceptions.RestoreFailedError(
                f"The restored database does not match the backup. The backup is kept at {backup.path}.",
                backup_path=backup.path,
            )
    except exceptions.RestoreFailedError:
        entry["outcome"] = "restore_failed"
        _append_history(config, entry)
        raise
    marker.unlink(missing_ok=True)


def _restore_after_damage(
    config: MaintenanceConfig,
    backup: backups.BackupInfo,
    check: IntegrityResult,
    entry: dict[str, object],
    started: float,
    progress: ProgressCallback | None,
) -> None:
    """The database was damaged before the run: undo the migrations and refuse, as before any change.

    The backup is byte for byte the database the checks read, so restoring
    it leaves the file exactly as it was; then the backup is discarded (a
    damaged file is never kept as a good backup) and the run ends with the
    damaged-database error (exit 2), as when the checks finish first.
    """
    log.error("the pre-upgrade check found damage (%s); undoing the migrations from %s", check.summary, backup.path)
    entry.update(
        {
            "finished_at": _now(),
            "duration_s": round(time.perf_counter() - started, 3),
            "failed_step": "integrity",
            "error": check.summary,
        }
    )
    _put_backup_back(config, backup, entry, progress, "The database failed its integrity check. Putting it back…")
    backups.discard(backup.path)
    raise _damaged(config, check)


def _restore_after_failure(
    config: MaintenanceConfig,
    backup: backups.BackupInfo,
    step: str,
    err: BaseException,
    entry: dict[str, object],
    started: float,
    progress: ProgressCallback | None,
) -> None:
    """Restore the backup after a failed step (or Ctrl-C), prove it, record it, and raise the typed error."""
    stopped = isinstance(err, KeyboardInterrupt)
    cause = "Ctrl-C" if stopped else _cause(err)
    log.exception("Guarded upgrade %s during %s; restoring %s", "stopped" if stopped else "failed", step, backup.path)
    entry.update(
        {
            "finished_at": _now(),
            "duration_s": round(time.perf_counter() - started, 3),
            "failed_step": step,
            "error": cause,
        }
    )
    what = "was stopped" if stopped else "failed"
    _put_backup_back(config, backup, entry, progress, f"The upgrade {what}. Restoring the backup…")
    entry["outcome"] = "stopped_restored" if stopped else "failed_restored"  # a stop is not a failure to remember
    _append_history(config, entry)
    raise exceptions.MigrationFailedError(
        f"The database upgrade {what} while {_STEP_WORDS.get(step, step)} ({cause}). "
        f"Your data was restored from the backup made just before: {backup.path.name}.",
        backup_path=backup.path,
        failed_step=step,
        cause=cause,
    ) from err


def _cause(err: BaseException) -> str:
    if isinstance(err, SystemExit):  # str() would say only "0" or "1"
        return f"a migration called sys.exit({err.code!r})"
    return str(err)


def _append_history(config: MaintenanceConfig, entry: dict[str, object]) -> None:
    """Record a run; a full or read-only disk must not turn a restored database into a traceback."""
    try:
        history.append_run(config.data_dir, entry)
    except OSError:
        log.exception("could not record the run in the upgrade history: %s", entry)


_STEP_WORDS = {"migrate": "applying migrations", "verify": "verifying the result"}


def _last_version(config: MaintenanceConfig) -> str | None:
    for run in history.read_history(config.data_dir):
        if run.get("outcome") in {"upgraded", "created"}:
            return str(run.get("to_version"))
    return None
