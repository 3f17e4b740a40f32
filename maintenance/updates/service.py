"""The running app's view of updates: check on start and every few hours, download, restart.

One :class:`UpdateState` per process. The window's prompts and the admin page
read it; their buttons call its methods. Nothing here starts while a sale is
open on the till, and a failed check or download leaves the running version
untouched.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils.module_loading import import_string

from maintenance import signals
from maintenance.config import app_version, updates_dir
from maintenance.updates import install
from maintenance.updates.client import UpdateError, UpdateOffer, check, stage

log = logging.getLogger(__name__)
IDLE, AVAILABLE, DOWNLOADING, READY, FAILED = "idle", "available", "downloading", "ready", "failed"


@dataclass
class UpdateState:
    status: str = IDLE
    offer: UpdateOffer | None = None
    error: str = ""
    last_check: datetime | None = None
    downloaded: int = 0
    remind_after: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- what the prompts show ------------------------------------------------
    @property
    def installed(self) -> str:
        return app_version()

    @property
    def percent(self) -> float:
        if not self.offer or not self.offer.size:
            return 0.0
        return min(100.0, 100.0 * self.downloaded / self.offer.size)

    def should_prompt(self) -> bool:
        """Return True when the till should show the update banner."""
        if self.status in (DOWNLOADING, READY):
            return True
        return (
            self.status == AVAILABLE
            and self.offer is not None
            and self.offer.version != skipped_version()
            and time.monotonic() >= self.remind_after
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "installed": self.installed,
            "version": self.offer.version if self.offer else None,
            "percent": round(self.percent, 1),
            "error": self.error,
            "last_check": self.last_check.isoformat(timespec="seconds") if self.last_check else None,
            "skipped_versions": list(self.offer.skipped_versions) if self.offer else [],
        }

    # --- actions ----------------------------------------------------------------
    def check_now(self) -> None:
        try:
            offer = check()
        except UpdateError as err:
            with self._lock:
                self.error, self.last_check = err.message, datetime.now().astimezone()
                if self.status not in (DOWNLOADING, READY):
                    self.status = FAILED
            log.warning("update check: %s", err.message)
            return
        with self._lock:
            self.last_check, self.error = datetime.now().astimezone(), ""
            if self.status in (DOWNLOADING, READY):
                return
            self.offer = offer
            self.status = AVAILABLE if offer.newer else IDLE

    def remind_later(self, hours: float = 4.0) -> None:
        self.remind_after = time.monotonic() + hours * 3600

    def skip(self) -> None:
        if self.offer:
            _write_prefs({"skipped_version": self.offer.version})

    def start_download(self) -> None:
        """Download and stage the offered release in the background; refuse while a sale is open."""
        if sale_open():
            raise UpdateError("A sale is open on the till. Finish or void it, then update.")
        with self._lock:
            if self.status != AVAILABLE or self.offer is None:
                raise UpdateError("There is no update to download.")
            self.status, self.downloaded, self.error = DOWNLOADING, 0, ""
            offer = self.offer

        def progress(done: int) -> None:
            self.downloaded = done

        def run() -> None:
            try:
                stage(offer, progress)
                self.downloaded = offer.size
                self.status = READY
            except UpdateError as err:
                self.status, self.error = FAILED, err.message
            finally:
                connections.close_all()

        threading.Thread(target=run, name="update-download", daemon=True).start()

    def restart_to_update(self) -> None:
        """Quit so the stable launcher installs the staged release and starts it."""
        if self.status != READY:
            raise UpdateError("The update has not been downloaded yet.")
        if sale_open():
            raise UpdateError("A sale is open on the till. Finish or void it, then restart.")
        answers = signals.restart_requested.send(sender=UpdateState, exit_code=install.RESTART_TO_UPDATE_EXIT)
        if not any(will_quit for _receiver, will_quit in answers):
            raise UpdateError("Restart AurSwift to install the update.")


def failure_notice() -> str | None:
    """Return "Update X.Y.Z could not be installed; you are on A.B.C." the first time it is asked, then None.

    For the till to show once after the stable launcher fell back from a
    version; that version is never offered again on this machine.
    """
    try:
        return install.take_failure_notice(settings.DATA_DIR, app_version())
    except OSError as err:  # an unwritable data folder must not break the page that asks
        log.warning("update failure notice: %s", err)
        return None


def sale_open() -> bool:
    """Return whether an update must wait: any blocker named in ``AURSWIFT_UPDATE_BLOCKERS`` says so.

    The till names its own blocker (an open sale) in settings, so this app
    knows nothing of the till's models.
    """
    for dotted in settings.AURSWIFT_UPDATE_BLOCKERS:
        try:
            if import_string(dotted)():
                return True
        except DatabaseError:
            continue  # no database yet: nothing can be open
    return False


def _prefs_path():
    return updates_dir(settings.DATA_DIR) / "prefs.json"


def skipped_version() -> str | None:
    try:
        return json.loads(_prefs_path().read_text(encoding="utf-8")).get("skipped_version")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_prefs(data: dict) -> None:
    path = _prefs_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


_state = UpdateState()
_checker: threading.Thread | None = None


def state() -> UpdateState:
    return _state


def start_periodic_checks() -> threading.Thread | None:
    """Check on start and every AURSWIFT_UPDATE_CHECK_HOURS (only when an update URL is set)."""
    global _checker
    if not settings.AURSWIFT_UPDATE_URL or (_checker is not None and _checker.is_alive()):
        return _checker

    def loop() -> None:
        while True:
            _state.check_now()
            connections.close_all()
            time.sleep(max(60.0, settings.AURSWIFT_UPDATE_CHECK_HOURS * 3600))

    _checker = threading.Thread(target=loop, name="update-checks", daemon=True)
    _checker.start()
    return _checker
