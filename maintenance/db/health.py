"""Database health: the full report behind ``check_db`` and the admin's health page.

Everything here reads; nothing changes the database. The full check after
start-up runs in a background thread so the till opens at once, and its
result is kept in ``logs/last-health.json`` for the admin.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from maintenance import exceptions, signals
from maintenance.config import logs_dir
from maintenance.db import markers, priority, writer_lock
from maintenance.db.classify import classify, label
from maintenance.db.diskspace import MB, required_bytes
from maintenance.db.integrity import check_file
from maintenance.db.sqlite_tools import SIDE_SUFFIXES, size_with_wal
from maintenance.files import read_json, write_json_atomic

log = logging.getLogger(__name__)
LAST_HEALTH = "last-health.json"


@dataclass
class HealthReport:
    db_path: str
    checked_at: str
    classification: str
    problem: str = ""  # the refusal a start-up would give, if any
    integrity: str = "not checked"
    integrity_ok: bool | None = None
    integrity_seconds: float = 0.0
    foreign_key_violations: int = 0
    structure_ok: bool | None = None  # the file's own structure, apart from foreign keys
    fingerprints: str = ""
    pending: list[str] = field(default_factory=list)
    db_mb: float = 0.0
    free_mb: float = 0.0
    required_mb: float = 0.0
    kept_aside: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        """Return whether the file itself is damaged (foreign-key violations alone are not damage)."""
        if self.classification == "corrupt":
            return True
        return self.structure_ok is False

    @property
    def healthy(self) -> bool:
        return not self.problem and self.integrity_ok is not False and self.free_mb >= self.required_mb

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "healthy": self.healthy}

    def lines(self) -> list[str]:
        """Return the report as the lines ``check_db`` prints."""
        return [
            f"Database: {self.db_path}",
            f"Classification: {self.classification}" + (f" — {self.problem}" if self.problem else ""),
            f"Integrity: {self.integrity}",
            f"Foreign key violations: {self.foreign_key_violations}",
            f"Fingerprints: {self.fingerprints or 'n/a'}",
            "Pending migrations: " + (", ".join(self.pending) if self.pending else "none"),
            f"Disk: database {self.db_mb:.1f} MB, required free {self.required_mb:.1f} MB, "
            f"available {self.free_mb:.1f} MB",
            "Kept-aside databases: " + (", ".join(self.kept_aside) if self.kept_aside else "none"),
            f"Healthy: {'yes' if self.healthy else 'no'}",
        ]


def kept_aside_files(db_path: Path) -> list[Path]:
    """Return the ``<database>.old.<stamp>`` files kept beside ``db_path`` by "Backup & Start Fresh" and repairs."""
    pattern = glob.escape(db_path.name) + ".old.*"
    return sorted(p for p in db_path.parent.glob(pattern) if not p.name.endswith(SIDE_SUFFIXES))


def check_health(db_path: Path, data_dir: Path, *, full: bool = True, integrity: bool = True) -> HealthReport:
    """Return a health report of ``db_path``: integrity_check when ``full``, no scan at all without ``integrity``.

    Pages call it with ``integrity=False``: a scan costs seconds per GB, so they
    show the last full check instead and offer to run one.
    """
    db_bytes = size_with_wal(db_path)
    report = HealthReport(
        db_path=str(db_path),
        checked_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        classification="unknown",
        db_mb=round(db_bytes / MB, 1),
        free_mb=round(psutil.disk_usage(str(data_dir)).free / MB, 1),
        required_mb=round(required_bytes(db_bytes) / MB, 1),
        kept_aside=[p.name for p in kept_aside_files(db_path)],
    )
    try:
        result = classify(db_path)
        report.classification = result.kind
        report.pending = [label(k) for k in result.pending]
        report.fingerprints = result.fingerprint_status
        result.raise_for_problems()
    except exceptions.MaintenanceError as err:
        report.problem = err.message
        if isinstance(err, exceptions.DatabaseCorruptError):
            report.classification = "corrupt"
            report.integrity, report.integrity_ok = err.message, False
            return report
    report.problem = report.problem or _unfinished_run(db_path, data_dir) or ""
    if db_path.exists() and integrity:
        check = check_file(db_path, full=full, foreign_keys=True)
        report.integrity, report.integrity_ok = check.summary, check.ok
        report.integrity_seconds = round(check.seconds, 3)
        report.foreign_key_violations = check.foreign_key_violations
        report.structure_ok = len(check.problems) <= min(check.foreign_key_violations, 20)
    return report


def _unfinished_run(db_path: Path, data_dir: Path) -> str | None:
    """Say so when an upgrade runs, or a crash left one (or a restore) unfinished: the file is not the database yet."""
    if writer_lock.step_running_in_another_thread(data_dir):
        return "AurSwift is running a maintenance step on the database now; check again when it is done."
    marker = read_json(markers.marker_path(db_path))
    if marker is not None:
        owner = markers.live_owner(marker)
        if owner is not None:
            return f"A database upgrade is running in process {owner['pid']}; check again when it is done."
        backup = Path(str(marker.get("backup", ""))).name or "its backup"
        return (
            f"A database upgrade was interrupted; the next start of AurSwift puts back the backup made "
            f"before it ({backup}) and runs it again."
        )
    if markers.work_left_by_a_crash(db_path):
        return "A restore or recovery step was interrupted; the next start of AurSwift finishes it."
    return None


def last_health_path(data_dir: Path) -> Path:
    return logs_dir(data_dir) / LAST_HEALTH


def save_health(data_dir: Path, report: HealthReport) -> None:
    with contextlib.suppress(OSError):  # a full disk must not hide the result from the caller
        write_json_atomic(last_health_path(data_dir), report.as_dict())


def last_health(data_dir: Path) -> dict | None:
    """Return the last saved full check, or None if none ran yet."""
    try:
        return json.loads(last_health_path(data_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def run_and_save(db_path: Path, data_dir: Path) -> HealthReport:
    """Run the full check, keep its result for the admin, and announce a damaged database at once."""
    report = check_health(db_path, data_dir, full=True)
    save_health(data_dir, report)
    if not report.healthy:
        log.error("Background database check found problems: %s", report.integrity)
    if report.damaged:
        # Stop writes now: every further write into a damaged file can spread the damage.
        signals.database_corrupted.send(sender=HealthReport, message=report.integrity)
    return report


def start_background_check(db_path: Path, data_dir: Path) -> threading.Thread:
    """Run the full integrity check after start-up without delaying the till."""

    def run() -> None:
        priority.lower_this_thread()  # beside the till: its requests get the CPU first
        run_and_save(db_path, data_dir)

    thread = threading.Thread(target=run, daemon=True, name="db-health")
    thread.start()
    return thread
