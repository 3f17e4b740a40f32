"""The start-up sequence the window shows: guarded upgrade, then the till — or a recovery page.

One :class:`Startup` object per process. The launcher creates it; a
background thread runs the guarded upgrade and reports progress into it; the
start-up views read it and call its recovery actions. Under ``manage.py``
and in tests there is none, and the app behaves as a plain Django site.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections

from aurswift.paths import backups_dir
from maintenance import exceptions, signals
from maintenance.config import live_db_path
from maintenance.db import backups, locks, recovery
from maintenance.db.progress import Progress
from maintenance.db.upgrade import run_guarded_upgrade
from maintenance.updates import install as update_install
from pos.services import demo

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
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
            db_path = live_db_path()
            self._upgrade_with_retries()
            locks.ensure_writable(db_path)
            self._first_run_data()
            with self._lock:
                self.status = READY
                self.ready_after_s = time.monotonic() - self.started_at
            log.info("start-up: ready after %.2f s", self.ready_after_s)
            if self.trial_version:
                update_install.mark_ready(settings.DATA_DIR, self.trial_version)
            # The apps start their own after-start work (background check, update checks).
            signals.startup_finished.send(sender=Startup, db_path=db_path, data_dir=settings.DATA_DIR)
        except exceptions.MaintenanceError as err:
            self._fail(err)
        except Exception as err:  # noqa: BLE001 - the window must show something, never hang
            log.exception("start-up failed")
            self._fail(exceptions.MaintenanceError(f"AurSwift could not start: {err}"))
        finally:
            connections.close_all()

    def _upgrade_with_retries(self) -> None:
        """Retry transient 'database is locked' a few times before giving up."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                run_guarded_upgrade(progress=self.report, reason="startup")
                return
            except exceptions.DatabaseLockedError:
                if attempt == self.max_attempts:
                    raise
                self.report(Progress("classify", f"The database is busy; trying again ({attempt})…"))
                time.sleep(attempt)

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
    def backup_and_start_fresh(self) -> Path:
        old = recovery.backup_and_start_fresh(live_db_path(), settings.DATA_DIR)
        self.start()
        return old

    def restore_from_backup(self) -> Path:
        backup = self._backup_to_restore()
        recovery.restore_from_backup(backup, live_db_path(), settings.DATA_DIR)
        self.start()
        return backup

    def try_repair(self) -> recovery.RepairReport:
        report = recovery.try_repair(live_db_path(), settings.DATA_DIR, progress=self.report)
        self.repair_report = report
        return report

    def retry(self) -> None:
        self.start()

    def quit(self, exit_code: int = 0) -> None:
        """Close the app without touching the database."""
        with self._lock:
            self.status = CLOSED
            self.exit_code = exit_code
        if self.on_quit:
            threading.Timer(0.5, self.on_quit).start()

    def _backup_to_restore(self) -> Path:
        named = self.error.details.get("backup_path") if self.error else None
        if named:
            return Path(str(named))
        newest = backups.newest_verified(backups.list_backups(backups_dir(settings.DATA_DIR)))
        if newest is None:
            raise exceptions.BackupError("There is no verified backup to restore.")
        return newest.path


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
