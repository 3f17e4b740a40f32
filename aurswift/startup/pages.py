"""What each recovery page says and offers: the seed's dialogs, in one table."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from maintenance import exceptions

ACTION_LABELS = {
    "start_fresh": "Backup & Start Fresh",
    "restore": "Restore from Backup",
    "repair": "Try Repair",
    "cancel": "Cancel",
    "ok": "OK",
    "retry": "Retry",
    "quit": "Quit",
}


@dataclass
class RecoveryPage:
    title: str
    lead: str
    paragraphs: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    severity: str = "warning"  # warning | error


def _actions(*names: str) -> list[tuple[str, str]]:
    return [(name, ACTION_LABELS[name]) for name in names]


def page_for(error: exceptions.MaintenanceError, *, final: bool = False) -> RecoveryPage:
    """Return the page for a start-up error (see DESIGN.md section 4)."""
    d = error.details
    if final:
        return RecoveryPage(
            "AurSwift Could Not Start",
            "AurSwift tried to start 3 times and could not.",
            [error.message, "Nothing was changed. Close AurSwift and contact support if this keeps happening."],
            actions=_actions("quit"),
            severity="error",
        )
    if isinstance(error, exceptions.LegacyDatabaseError):
        return RecoveryPage(
            error.title,
            "Your database cannot be automatically migrated.",
            [
                "Your database was created with a very old version of AurSwift and cannot be automatically "
                "migrated to the current version.",
                "We recommend creating a backup of your current database and starting fresh. Your old database "
                "will be preserved and can be manually inspected if needed.",
            ],
            facts=[("Database", str(d.get("db_path", "")))],
            actions=_actions("start_fresh", "cancel"),
        )
    if isinstance(error, exceptions.MigrationFailedError | exceptions.FingerprintMismatchError):
        backup = d.get("backup_path")
        facts = []
        if backup:
            facts = [
                ("Backup location", str(settings.DATA_DIR / "backups")),
                ("Backup file", str(backup).replace("\\", "/").split("/")[-1]),
            ]
        body = (
            [
                "The database migration encountered an error. Your database has been restored to its previous state.",
                error.message,
            ]
            if isinstance(error, exceptions.MigrationFailedError)
            else [
                "An already applied database migration was changed in this version of AurSwift, so it cannot "
                "safely upgrade your database. Nothing was changed.",
                error.message,
            ]
        )
        return RecoveryPage(
            "Database Migration Failed",
            "Failed to migrate your database to the current version.",
            body,
            options=[
                "Restore from Backup: Restore from the last successful backup and retry",
                "Backup & Start Fresh: Create a backup and start with a fresh database",
            ],
            facts=facts,
            actions=_actions("restore", "start_fresh", "cancel"),
        )
    if isinstance(error, exceptions.DatabaseCorruptError):
        return RecoveryPage(
            error.title,
            "Your database appears to be corrupted.",
            ["Automatic repair attempts failed. Your database may have been damaged.", error.message],
            options=[
                "Backup & Start Fresh: Creates a backup and starts with a new database (recommended)",
                "Try Repair: Attempts advanced repair techniques (may lose some data)",
            ],
            actions=_actions("start_fresh", "repair", "cancel"),
        )
    if isinstance(error, exceptions.InsufficientDiskSpaceError):
        return RecoveryPage(
            error.title,
            "Insufficient disk space for migration.",
            ["Please free up disk space before proceeding."],
            facts=[
                ("Database size", f"{error.database_mb:.1f} MB"),
                ("Required", f"{error.required_mb:.1f} MB"),
                ("Available", f"{error.available_mb:.1f} MB"),
            ],
            actions=_actions("ok"),
            severity="error",
        )
    if isinstance(error, exceptions.DatabaseLockedError):
        who = d.get("holder_name")
        pid = d.get("holder_pid")
        facts = [("Held by", f"{who} (process {pid})" if pid else (who or "another program"))]
        return RecoveryPage(
            error.title,
            "The database is being used by another program.",
            [error.message, "AurSwift has not opened the database, so nothing was changed."],
            facts=facts,
            actions=_actions("retry", "quit"),
        )
    if isinstance(error, exceptions.DatabaseAheadError):
        return RecoveryPage(
            error.title,
            "This database was last used by a newer version of AurSwift.",
            [error.message, "Install the newer version of AurSwift to open it. Nothing was changed."],
            facts=[("Unknown migrations", ", ".join(d.get("unknown", [])))],
            actions=_actions("quit"),
            severity="error",
        )
    return RecoveryPage(error.title, error.message, actions=_actions("retry", "quit"), severity="error")
