"""The start-up sequence the window shows: guarded upgrade, then the till — or a recovery page.

One :class:`Startup` object per process. The launcher creates it; a
background thread runs the guarded upgrade and reports progress into it; the
start-up views read it and call its recovery actions. Under ``manage.py``
and in tests there is none, and the app behaves as a plain Django site.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import connections
from django.utils import formats, timezone

from aurswift import __version__
from maintenance import exceptions, signals
from maintenance.config import MaintenanceConfig, backups_dir
from maintenance.db import backups, history, locks, markers, recovery, writer_lock
from maintenance.db.progress import Progress
from maintenance.db.sqlite_tools import sha256_file
from maintenance.db.upgrade import finish_interrupted_runs, run_guarded_upgrade
from maintenance.describe import inspect_readonly
from maintenance.updates import install as update_install
from pos.services import demo, setup
from pos.services.setup import ShopSetup

log = logging.getLogger("aurswift.startup")


class StartupStatus(enum.StrEnum):
    """Where start-up is; the pages and the JSON status switch on these."""

    STARTING = "starting"
    READY = "ready"
    RECOVERY = "recovery"
    CLOSED = "closed"


STARTING, READY, RECOVERY, CLOSED = (
    StartupStatus.STARTING,
    StartupStatus.READY,
    StartupStatus.RECOVERY,
    StartupStatus.CLOSED,
)


NO_MANAGER_WORD = "CONFIRM"
PIN_RE = re.compile(r"[0-9]{4,8}")


class ActionRunning(Exception):
    """Another button's action is still running (see :meth:`Startup.one_action`)."""


class NotConfirmed(Exception):
    """A destructive recovery action was not confirmed by a manager; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ActionOutcome:
    """What a recovery action did, in sentences, for the page that follows it."""

    title: str
    lines: list[str]
    kept_aside: Path | None = None
    restore_point: backups.BackupInfo | None = None


@dataclass(frozen=True)
class Manager:
    username: str
    display: str
    pin_hash: str


@dataclass
class ManagerSource:
    """The managers whose PIN confirms a destructive action, and where their records were read."""

    managers: list[Manager]
    where: str  # "live" | "backup" | "none"
    backup: backups.BackupInfo | None = None
    live_problem: str = ""  # why the live database was not used: "cannot be read", "is missing"…

    @property
    def where_short(self) -> str:
        if self.where == "live":
            return "the current database"
        if self.where == "backup" and self.backup is not None:
            return f"the backup {self.backup.name}"
        return "nothing"


_MANAGERS_SQL = (
    "SELECT u.username, u.first_name, u.last_name, s.pin_hash FROM pos_staffprofile s "
    "JOIN auth_user u ON u.id = s.user_id WHERE s.role = 'manager' AND u.is_active AND s.pin_hash != '' "
    "ORDER BY u.id"
)


def read_managers(db_path: Path) -> list[Manager]:
    """Read the managers with a PIN from a database file, read-only (never writes, never leaves side files)."""
    with inspect_readonly(db_path) as conn:
        rows = conn.execute(_MANAGERS_SQL).fetchall()
    return [Manager(u, f"{f} {last}".strip() or u, h) for u, f, last, h in rows]


def find_managers(db_path: Path, data_dir: Path) -> ManagerSource:
    """Return the managers from the live file when it can be read, else from the newest verified backup."""
    problem = ""
    if db_path.exists():
        try:
            found = read_managers(db_path)
            if found:
                return ManagerSource(found, "live")
            problem = "has no manager with a PIN"
        except sqlite3.DatabaseError as err:
            problem = "cannot be read" if "no such table" not in str(err) else "has no AurSwift staff list"
    else:
        problem = "is missing"
    for info in backups.list_backups(backups_dir(data_dir)):
        if not info.verified:
            continue
        try:
            found = read_managers(info.path)
        except sqlite3.DatabaseError:
            continue
        if found:
            return ManagerSource(found, "backup", info, problem)
    return ManagerSource([], "none", None, problem)


def known_failed_upgrade(data_dir: Path, version: str) -> dict | None:
    """Return the history entry of an upgrade to ``version`` that failed on this database and still stands.

    A later success to ``version`` (upgraded, or a new database created)
    or a Start Fresh ends it; restores and repairs do not: the same shop's
    data would meet the same migration.
    """
    for run in history.read_history(data_dir):
        outcome = run.get("outcome")
        if outcome == "start_fresh" or (outcome in {"upgraded", "created"} and run.get("to_version") == version):
            return None
        if outcome == "failed_restored" and run.get("to_version") == version:
            return run
    return None


def previous_version() -> str | None:
    """Return the version the stable launcher would go back to (None outside the stable launcher)."""
    return os.environ.get("AURSWIFT_PREVIOUS_VERSION") or None


def format_time(value: datetime | str | None) -> str:
    """Return a time in the shop's time zone and locale (e.g. "3 Mar 2025, 2:05 p.m.")."""
    if value is None or value == "":
        return "an unknown time"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _size(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return str(filesizeformat(n)).replace("\xa0", " ")


def _file_facts(path: Path) -> tuple[int, str]:
    """Return a database file's size and sha256 (what a kept-aside copy must equal)."""
    return path.stat().st_size, sha256_file(path)


@dataclass
class Startup:
    """What the start-up screen shows, updated by the start-up thread."""

    max_attempts: int = 3
    status: StartupStatus = STARTING
    progress: Progress = field(default_factory=lambda: Progress("classify", "Starting AurSwift…"))
    error: exceptions.MaintenanceError | None = None
    attempts: int = 0
    credentials: str | None = None  # first-run sign-in details, shown once
    repair_report: recovery.RepairReport | None = None
    instance_blocker: Callable[[], exceptions.MaintenanceError | None] | None = None
    on_quit: Callable[[], None] | None = None
    on_focus: Callable[[], None] | None = None
    focus_token: str = ""
    trial_version: str | None = None  # set when this version runs on trial after an update
    exit_code: int = 0
    started_at: float = field(default_factory=time.monotonic)
    ready_after_s: float | None = None
    outcome: ActionOutcome | None = None  # what the last recovery action did, shown on the next page
    known_failure_override: bool = False  # "Try again": run an upgrade that already failed on this database
    #: which database and data directory; built once from settings when the launcher does not pass it
    config: MaintenanceConfig | None = None
    _pin_failures: int = 0
    _pin_paused_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _acting: threading.Lock = field(default_factory=threading.Lock)  # one button's action at a time

    @property
    def maintenance(self) -> MaintenanceConfig:
        """The frozen configuration every step and recovery action works on (read from settings once)."""
        if self.config is None:
            self.config = MaintenanceConfig.from_settings()
        return self.config

    # --- reporting -----------------------------------------------------------
    def report(self, progress: Progress) -> None:
        with self._lock:
            self.progress = progress
        log.info("start-up: %s", progress.message)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data = {"status": self.status, **self.progress.as_dict(), "attempts": self.attempts}
            if self.error is not None:
                data["scenario"] = self.error.scenario
            return data

    @property
    def final(self) -> bool:
        """True when the allowed start-up attempts are used up."""
        return (
            self.status == RECOVERY
            and self.attempts >= self.max_attempts
            and self.error is not None
            and self.error.scenario in {"locked", "error"}
        )

    # --- running -------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run the start-up sequence in a background thread."""
        with self._lock:
            self.status, self.error = STARTING, None
            self.progress = Progress("classify", "Starting AurSwift…")
        thread = threading.Thread(target=self._run, name="startup", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            self.attempts += 1
            blocker = self.instance_blocker() if self.instance_blocker else None
            if blocker is not None:
                raise blocker
            config = self.maintenance
            self._upgrade(config)
            locks.ensure_writable(config.db_path)
            self._first_run_data()
            with self._lock:
                self.status = READY
                self.ready_after_s = time.monotonic() - self.started_at
            log.info("start-up: ready after %.2f s", self.ready_after_s)
            if self.trial_version:
                update_install.mark_ready(config.data_dir, self.trial_version)
            # The apps start their own after-start work (background check, update checks).
            signals.startup_finished.send(sender=Startup, db_path=config.db_path, data_dir=config.data_dir)
        except exceptions.MaintenanceError as err:
            self._fail(err)
        except (Exception, SystemExit) as err:  # a thread that just ended would leave the screen waiting forever
            log.exception("start-up failed")
            why = f"sys.exit({err.code!r})" if isinstance(err, SystemExit) else err
            self._fail(exceptions.MaintenanceError(f"AurSwift could not start: {why}"))
        finally:
            connections.close_all()

    def _upgrade(self, config: MaintenanceConfig) -> None:
        """The guarded upgrade, which reports its progress here (a busy database is retried inside it, once)."""
        if markers.work_left_by_a_crash(config.db_path):  # finished first: the failure below is judged on it
            with writer_lock.held(config.data_dir):
                finish_interrupted_runs(config, self.report)
        self._refuse_known_failure(config)
        run_guarded_upgrade(config=config, progress=self.report, reason="startup")

    def _refuse_known_failure(self, config: MaintenanceConfig) -> None:
        """Do not run again an upgrade that already failed on this database (until "Try again")."""
        failed = self.known_failure()
        if failed is None:
            return
        try:
            plan = run_guarded_upgrade(config=config, plan_only=True)
        except exceptions.MaintenanceError:
            return  # the real run says what is wrong
        if not plan.pending or sorted(plan.pending) != sorted(failed.get("pending") or plan.pending):
            return
        raise exceptions.MigrationFailedError(
            f"The upgrade to AurSwift {__version__} failed on this database on {format_time(failed.get('finished_at'))}"
            f" ({failed.get('error', 'unknown error')}). It was not run again: it would fail the same way.",
            backup_path=failed.get("backup"),
            failed_step=str(failed.get("failed_step", "")),
            known_failure=True,
            cause=failed.get("error", ""),
        )

    def _first_run_data(self) -> None:
        created = demo.prepare_first_run()
        if created is not None:
            creds = demo.format_credentials(created)
            print(creds, flush=True)
            with self._lock:
                self.credentials = creds

    def _fail(self, err: exceptions.MaintenanceError) -> None:
        log.error("start-up stopped: %s: %s", err.title, err.message)
        with self._lock:
            self.status, self.error = RECOVERY, err
        if self.trial_version:
            # A freshly installed version that cannot use the database hands back
            # to the stable launcher, which starts the previous version.
            print(f"Update {self.trial_version} could not start: {err.title}: {err.message}", flush=True)
            self.quit(update_install.TRIAL_FAILED_EXIT)

    # --- recovery actions (the buttons) ----------------------------------------
    @contextlib.contextmanager
    def one_action(self) -> Iterator[None]:
        """Run one button's action at a time; raise :class:`ActionRunning` while another one runs.

        A double click or a second tab must not restore twice, keep two files aside or count PINs
        in parallel: the second press is dropped, and its page shows what the first one did.
        """
        if not self._acting.acquire(blocking=False):
            raise ActionRunning
        try:
            yield
        finally:
            self._acting.release()

    # Destructive ones (Start Fresh, Restore, Try Repair, accepting a changed migration) take the
    # name of the manager who confirmed them (see :meth:`confirm_manager`) and record it in the
    # upgrade history; each returns an :class:`ActionOutcome` that says what it did.
    def backup_and_start_fresh(
        self, confirmed_by: str = "", *, shop: ShopSetup | None = None, demo_shop: bool = False
    ) -> ActionOutcome:
        """Keep the database aside unchanged, create a fresh one: empty with ``shop``, the demo with ``demo_shop``."""
        db_path = self.maintenance.db_path
        before = _file_facts(db_path) if db_path.exists() else None
        old = recovery.backup_and_start_fresh(self.maintenance)
        kept = old if old != db_path else None
        lines = []
        if kept is not None and before is not None:
            lines.append(
                f"Your previous database was kept aside unchanged as {kept.name} ({_size(before[0])}) "
                f"in {kept.parent}. It is never deleted; a manager can verify, download or restore it "
                "from Backups in the back-office."
            )
        lines.append(f"A new database was created for AurSwift {__version__}.")
        if shop is not None:
            self.set_up_empty_shop(shop)
            lines.append(
                f"The shop \u201c{shop.name}\u201d was set up with {len(shop.vat_rates)} VAT rate"
                f"{'s' if len(shop.vat_rates) != 1 else ''} and the manager {shop.manager_display}; "
                "add products and staff in the back-office."
            )
        elif demo_shop:
            lines.append("The demo caf\u00e9 (sample menu, tables and two members of staff) is being created.")
        self._record(
            "start_fresh",
            confirmed_by,
            kept_aside=str(kept) if kept else None,
            kept_aside_sha256=before[1] if before else None,
            new_shop="empty" if shop is not None else ("demo" if demo_shop else "first-run"),
        )
        outcome = ActionOutcome("Backup & Start Fresh done", lines, kept_aside=kept)
        self.outcome = outcome
        self.known_failure_override = False
        self.start()
        return outcome

    def set_up_empty_shop(self, shop: ShopSetup) -> None:
        """The first-run wizard's data: the business, its VAT rates and the first manager (no demo data)."""
        setup.create_empty_shop(shop)
        connections.close_all()

    def restore_from_backup(self, confirmed_by: str = "", name: str | None = None) -> ActionOutcome:
        """Restore the backup called ``name`` (or the one the page names) after taking a restore point."""
        backup = self._backup_to_restore(name)
        info = backups.validate_backup(backup)
        scenario = self.error.scenario if self.error else ""
        config = self.maintenance
        point = recovery.restore_from_backup(backup, config, validate=False)
        lines = [
            f"The backup {backup.name}, made {format_time(info.created_at)}, now is the shop's database.",
        ]
        if point is not None:
            lines.append(
                f"The database as it was before is kept as the restore point {point.name} "
                f"({_size(point.size)}) in {point.path.parent}: anything recorded after "
                f"{format_time(info.created_at)} is only there."
            )
        self._record(
            "restored",
            confirmed_by,
            backup=str(backup),
            backup_sha256=info.sha256,
            restore_point=str(point.path) if point else None,
            page=scenario,
        )
        self.outcome = ActionOutcome("Restore from Backup done", lines, restore_point=point)
        self.start()
        return self.outcome

    def try_repair(self, confirmed_by: str = "") -> recovery.RepairReport:
        db_path = self.maintenance.db_path
        before = _file_facts(db_path)
        report = recovery.try_repair(self.maintenance, progress=self.report)
        self.repair_report = report
        self._record(
            "repaired" if report.ok else "repair_failed",
            confirmed_by,
            kept_aside=str(report.kept_aside) if report.kept_aside else None,
            kept_aside_sha256=before[1] if report.kept_aside else None,
            method=report.method,
            recovered_rows=sum(t.recovered_rows for t in report.tables),
            lost_rows=sum(t.lost_rows or 0 for t in report.tables),
        )
        if report.ok and report.kept_aside is not None:
            self.outcome = ActionOutcome(
                "Try Repair done",
                [
                    f"The damaged database was kept aside unchanged as {report.kept_aside.name} "
                    f"({_size(before[0])}) in {report.kept_aside.parent}.",
                    "The salvaged database now is the shop's database.",
                ],
                kept_aside=report.kept_aside,
            )
        return report

    def accept_changed_migrations(self, confirmed_by: str, reason: str) -> ActionOutcome:
        """Record the changed migrations' new fingerprints as deliberate (schema and data are unchanged)."""
        from maintenance.db import acceptance

        names = list(getattr(self.error, "mismatches", []) or [])
        if not names:
            raise exceptions.UpgradeRefused("There is no changed migration to accept. Nothing was changed.")
        for label in names:
            app, name = label.split(".", 1)
            acceptance.accept_changed_migration(
                self.maintenance.db_path,
                self.maintenance.data_dir,
                app,
                name,
                reason=reason,
                confirmed_by=confirmed_by,
            )
        self.outcome = ActionOutcome(
            "Change accepted",
            [
                f"The changed migration{'s' if len(names) != 1 else ''} {', '.join(names)} "
                f"{'were' if len(names) != 1 else 'was'} accepted by {confirmed_by}; the reason is kept in "
                "the upgrade history. The database's tables and data were not changed.",
            ],
        )
        self.start()
        return self.outcome

    def keep_previous_version(self) -> None:
        """Hand back to the stable launcher, which starts the version installed before this one."""
        previous = previous_version()
        self._record("kept_previous_version", "", previous_version=previous)
        self.quit(update_install.KEEP_PREVIOUS_EXIT)

    def retry(self, *, try_failed_upgrade: bool = False, keep_outcome: bool = False) -> None:
        """Start again; ``try_failed_upgrade`` runs an upgrade that already failed on this database once more.

        ``keep_outcome``: the next page still says what the last action did (Continue after a repair).
        """
        self.known_failure_override = try_failed_upgrade
        if not keep_outcome:
            self.outcome = None
        self.start()

    def quit(self, exit_code: int = 0) -> None:
        """Close the app without touching the database."""
        with self._lock:
            self.status = CLOSED
            self.exit_code = exit_code
        if self.on_quit:
            threading.Timer(0.5, self.on_quit).start()

    def _backup_to_restore(self, name: str | None = None) -> Path:
        folder = self.maintenance.backups_dir
        if name:
            return backups.resolve_backup(folder, name)
        named = self.error.details.get("backup_path") if self.error else None
        if named:
            return Path(str(named))
        newest = backups.newest_verified(backups.list_backups(folder))
        if newest is None:
            raise exceptions.BackupError("There is no verified backup to restore.")
        return newest.path

    def _record(self, outcome: str, confirmed_by: str, **fields: object) -> None:
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        entry = {"started_at": now, "finished_at": now, "outcome": outcome, "to_version": __version__}
        entry.update({"confirmed_by": confirmed_by or "not needed", **fields})
        try:
            history.append_run(self.maintenance.data_dir, entry)
        except OSError:
            log.exception("could not record %s in the upgrade history", outcome)

    # --- who may press the destructive buttons -------------------------------------
    def confirm_manager(self, pin: str, typed: str = "") -> str:
        """Return who confirmed a destructive action, or raise :class:`NotConfirmed` (nothing changes).

        The PIN is checked against the managers :func:`find_managers` reads
        (the live file read-only, else the newest verified backup). Wrong PINs
        are counted here, in memory: the database may be unwritable.
        """
        now = time.monotonic()
        with self._lock:
            if self._pin_paused_until > now:
                raise NotConfirmed(
                    f"Too many wrong PINs. Try again in {int(self._pin_paused_until - now) + 1} seconds."
                )
        source = find_managers(self.maintenance.db_path, self.maintenance.data_dir)
        if not source.managers:
            if typed.strip().upper() == NO_MANAGER_WORD:
                return f"no manager on record (typed {NO_MANAGER_WORD})"
            raise NotConfirmed(f"Type {NO_MANAGER_WORD} to confirm.")
        if not PIN_RE.fullmatch(pin or ""):
            raise NotConfirmed("Type a manager's PIN (4 to 8 digits).")
        for manager in source.managers:
            if check_password(pin, manager.pin_hash):
                with self._lock:
                    self._pin_failures = 0
                return f"{manager.display} ({manager.username}, PIN checked against {source.where_short})"
        with self._lock:
            self._pin_failures += 1
            left = settings.AURSWIFT_PIN_MAX_FAILURES - self._pin_failures
            if left <= 0:
                self._pin_failures = 0
                self._pin_paused_until = now + settings.AURSWIFT_PIN_LOCKOUT_SECONDS
                raise NotConfirmed(
                    f"Too many wrong PINs. Try again in {settings.AURSWIFT_PIN_LOCKOUT_SECONDS} seconds."
                )
        log.warning("recovery: a wrong manager PIN was typed")
        plural = "s" if left != 1 else ""
        raise NotConfirmed(f"That is not a manager's PIN. Nothing was changed. {left} attempt{plural} left.")

    # --- an upgrade that already failed on this database -----------------------------
    def known_failure(self) -> dict | None:
        """Return the history entry of this version's upgrade that failed on this database, if it is not retried."""
        if self.known_failure_override:
            return None
        return known_failed_upgrade(self.maintenance.data_dir, self.maintenance.app_version)


_current: Startup | None = None


def install(startup: Startup) -> None:
    """Make ``startup`` the process's start-up state and listen to what maintenance announces."""
    global _current
    _current = startup
    signals.database_corrupted.connect(_on_database_corrupted, dispatch_uid="aurswift.startup.corruption")
    signals.restart_requested.connect(_on_restart_requested, dispatch_uid="aurswift.startup.restart")


def _on_database_corrupted(sender: object, message: str = "", **kwargs: object) -> None:
    report_corruption(exceptions.MaintenanceError(message or "the full check found damage"))


def _on_restart_requested(sender: object, exit_code: int = 0, **kwargs: object) -> bool:
    if _current is None:
        return False
    _current.quit(exit_code)
    return True


def current() -> Startup | None:
    """Return the process's start-up state (None under manage.py and in tests)."""
    return _current


def is_malformed_database_error(err: BaseException) -> bool:
    text = str(err).lower()
    return "malformed" in text or "file is not a database" in text or "disk image" in text


def report_corruption(err: BaseException) -> exceptions.DatabaseCorruptError:
    """Switch the running app to the corruption page after a damaged page was read."""
    error = exceptions.DatabaseCorruptError(
        f"The database is damaged ({err}). Nothing more will be written to it.", detail=str(err)
    )
    if _current is not None:
        _current._fail(error)
    print(f"Database corruption detected while running: {err}", file=sys.stderr, flush=True)
    return error
