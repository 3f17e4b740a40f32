"""Typed errors of the maintenance app, written for the person who will read them.

Each error carries what a recovery page needs (docs/design.md section 4) and the
exit code the management commands use (docs/design.md section 7):
2 = refused before any change, 3 = a step failed and the database was
restored, 4 = the restore itself failed.
"""

from __future__ import annotations

from pathlib import Path


class MaintenanceError(Exception):
    """Base class: ``title`` and ``message`` are shown to the shop as they are."""

    exit_code = 1
    title = "Database problem"
    #: the recovery scenario key the start-up pages switch on
    scenario = "error"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.details = details

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-friendly description (for ``--json`` and the pages)."""
        data: dict[str, object] = {
            "error": type(self).__name__,
            "scenario": self.scenario,
            "title": self.title,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        data.update({k: (str(v) if isinstance(v, Path) else v) for k, v in self.details.items()})
        return data


# --- Refused before any change (exit 2) ------------------------------------
class UpgradeRefused(MaintenanceError):
    exit_code = 2


class LegacyDatabaseError(UpgradeRefused):
    """Tables exist but Django never managed them: we cannot know their schema."""

    title = "Incompatible Database Detected"
    scenario = "legacy"


class DatabaseAheadError(UpgradeRefused):
    """The database has migrations this version of the app does not know."""

    title = "Database Is Newer Than This App"
    scenario = "ahead"

    def __init__(self, message: str = "", *, unknown: list[str] | None = None, **details: object) -> None:
        super().__init__(message, unknown=unknown or [], **details)
        self.unknown = unknown or []


class MigrationsMissingError(UpgradeRefused):
    """This build lost its own migration files: a broken install, not a newer database."""

    title = "Application Files Incomplete"
    scenario = "missing_migrations"


class FingerprintMismatchError(UpgradeRefused):
    """An applied migration was changed after it ran."""

    title = "Database Migration Failed"
    scenario = "migration_failed"

    def __init__(self, message: str = "", *, mismatches: list[str] | None = None, **details: object) -> None:
        super().__init__(message, mismatches=mismatches or [], **details)
        self.mismatches = mismatches or []


class DatabaseCorruptError(UpgradeRefused):
    title = "Database Corruption Detected"
    scenario = "corrupt"


class InsufficientDiskSpaceError(UpgradeRefused):
    title = "Database Migration Error"
    scenario = "disk"

    def __init__(
        self, message: str = "", *, database_mb: float, required_mb: float, available_mb: float, **details: object
    ) -> None:
        message = message or (
            "Not enough disk space to upgrade the database safely. "
            f"Database: {database_mb:.1f} MB. Required: {required_mb:.1f} MB. Available: {available_mb:.1f} MB."
        )
        super().__init__(
            message, database_mb=database_mb, required_mb=required_mb, available_mb=available_mb, **details
        )
        self.database_mb, self.required_mb, self.available_mb = database_mb, required_mb, available_mb


class NotEnoughSpaceToCopyError(InsufficientDiskSpaceError):
    """A manual backup or a restore would not fit on the disk; nothing was written."""

    title = "Not Enough Disk Space"

    def __init__(self, action: str, *, database_mb: float, required_mb: float, available_mb: float) -> None:
        super().__init__(
            f"Not enough disk space to {action}. "
            f"Database: {database_mb:.1f} MB. Required: {required_mb:.1f} MB. Available: {available_mb:.1f} MB. "
            "Free some space (for example, move old backups to another drive) and try again.",
            database_mb=database_mb,
            required_mb=required_mb,
            available_mb=available_mb,
        )


class DatabaseLockedError(UpgradeRefused):
    """Another process holds the database (or the single-instance lock)."""

    title = "Database In Use"
    scenario = "locked"

    def __init__(
        self, message: str = "", *, holder_pid: int | None = None, holder_name: str | None = None, **details: object
    ) -> None:
        super().__init__(message, holder_pid=holder_pid, holder_name=holder_name, **details)
        self.holder_pid, self.holder_name = holder_pid, holder_name


# --- A step failed, the database was restored (exit 3) ---------------------
class MigrationFailedError(MaintenanceError):
    exit_code = 3
    title = "Database Migration Failed"
    scenario = "migration_failed"

    def __init__(
        self, message: str = "", *, backup_path: Path | None = None, failed_step: str = "", **details: object
    ) -> None:
        super().__init__(message, backup_path=backup_path, failed_step=failed_step, **details)
        self.backup_path, self.failed_step = backup_path, failed_step


# --- The restore itself failed (exit 4) ------------------------------------
class RestoreFailedError(MaintenanceError):
    exit_code = 4
    title = "Database Restore Failed"
    scenario = "restore_failed"

    def __init__(self, message: str = "", *, backup_path: Path | None = None, **details: object) -> None:
        super().__init__(message, backup_path=backup_path, **details)
        self.backup_path = backup_path


# --- Backups and recovery actions ------------------------------------------
class BackupError(UpgradeRefused):
    """A backup could not be made or read; whatever ran is refused before any change (exit 2)."""

    title = "Backup Failed"
    scenario = "backup_failed"


class BackupVerificationError(BackupError):
    title = "Backup Could Not Be Verified"


class InvalidSettingError(MaintenanceError, ValueError):
    """A manager typed a setting the app cannot use; the message says what is accepted."""

    title = "Setting Not Saved"
    scenario = "error"


class BackupInvalidError(UpgradeRefused):
    """A file offered for restore is not a sound backup of this app: refused before any change."""

    title = "Not a Usable Backup"
    scenario = "backup_invalid"


class ReadOnlyError(UpgradeRefused):
    """The database or its folder cannot be written (a read-only disk or file)."""

    title = "Database Is Read-Only"
    scenario = "readonly"


class StoppedError(UpgradeRefused):
    """Ctrl-C stopped a command; the message says what that left (the command's own words)."""

    title = "Stopped (Ctrl-C)"
    scenario = "error"


class RecoveryInProgressError(UpgradeRefused):
    """Another recovery action (a repair, a restore) is already running."""

    title = "Recovery Already Running"
    scenario = "error"
