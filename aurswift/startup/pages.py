"""What each recovery page says and offers (docs/design.md section 4), and what each action will do.

Every page is built from the error the guarded upgrade raised and from
what can be read, read-only, about the files involved: the live database,
the backups (their sidecars and contents) and the upgrade history. Nothing
here writes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from packaging.version import InvalidVersion, Version

from aurswift import __version__
from aurswift.paths import backups_dir
from aurswift.startup.state import (
    NO_MANAGER_WORD,
    ActionOutcome,
    ManagerSource,
    format_time,
    previous_version,
)
from maintenance import exceptions
from maintenance.config import live_db_path
from maintenance.db import backups, history
from maintenance.describe import describe_contents, holds_version, holds_words, size_words

ACTION_LABELS = {
    "start_fresh": "Backup & Start Fresh",
    "restore": "Restore from Backup",
    "repair": "Try Repair",
    "accept": "Accept the Changed Migration",
    "keep_previous": "Keep using version {previous}",
    "try_again": "Try Again",
    "cancel": "Cancel",
    "ok": "OK",
    "retry": "Retry",
    "quit": "Quit",
}
#: Actions that change the shop's database: a manager's PIN on the page confirms them.
DESTRUCTIVE = frozenset({"start_fresh", "restore", "repair", "accept"})
#: Actions anyone at the window may press: they change nothing on disk.
OPEN = frozenset({"cancel", "ok", "retry", "quit", "keep_previous", "try_again"})

STEP_WORDS = {"migrate": "applying the migrations", "verify": "verifying the result", "": "upgrading"}


@dataclass
class RecoveryPage:
    title: str
    lead: str
    paragraphs: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    severity: str = "warning"  # warning | error
    notice: ActionOutcome | None = None  # what the last action did

    @property
    def action_names(self) -> set[str]:
        return {name for name, _ in self.actions}

    @property
    def buttons(self) -> list[tuple[str, str, bool]]:
        """(name, label, needs a manager) for each button."""
        return [(name, label, name in DESTRUCTIVE) for name, label in self.actions]

    @property
    def needs_manager(self) -> bool:
        return bool(self.action_names & DESTRUCTIVE)

    def __post_init__(self) -> None:
        self.paragraphs = dedupe(self.paragraphs)


def _actions(*names: str) -> list[tuple[str, str]]:
    previous = previous_version() or ""
    return [(name, ACTION_LABELS[name].format(previous=previous)) for name in names]


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"(])")


def dedupe(paragraphs: list[str]) -> list[str]:
    """Drop sentences already said in an earlier paragraph (or earlier in the same one)."""
    seen: set[str] = set()
    out = []
    for paragraph in paragraphs:
        kept = []
        for sentence in _SENTENCE.split(paragraph.strip()):
            key = re.sub(r"\W+", " ", sentence).strip().lower()
            if key and key not in seen:
                seen.add(key)
                kept.append(sentence)
        if kept:
            out.append(" ".join(kept))
    return out


# --- what the files are --------------------------------------------------------
def describe_backup(info: backups.BackupInfo, runs: list[dict] | None = None) -> str:
    """One line: which backup, when, how big, made by which version, what it holds."""
    return (
        f"{info.name}: made {format_time(info.created_at)} ({info.reason_label.lower()}), "
        f"{size_words(info.size)}, a database of {holds_words(holds_version(info, runs))}; "
        f"it holds {describe_contents(info.path)}"
    )


def restorable_backups(error: exceptions.MaintenanceError | None) -> list[backups.BackupInfo]:
    """Return the verified backups a restore could use, newest first, leaving out one that cannot help.

    After a failed upgrade the database already equals the backup made
    just before it, so restoring that one again would change nothing.
    """
    items = [b for b in backups.list_backups(backups_dir(settings.DATA_DIR)) if b.verified]
    already = _already_restored(error)
    return [b for b in items if b.name != already]


def _already_restored(error: exceptions.MaintenanceError | None) -> str | None:
    if isinstance(error, exceptions.MigrationFailedError) and error.details.get("backup_path"):
        return Path(str(error.details["backup_path"])).name
    return None


def version_needed(unknown: list[str]) -> str | None:
    """Return the oldest AurSwift version known to have the migrations this one lacks (from sidecars and history)."""
    wanted = set(unknown)
    versions = set()
    for run in history.read_history(settings.DATA_DIR):
        if wanted & set(run.get("applied") or []) and run.get("to_version"):
            versions.add(str(run["to_version"]))
    for info in backups.list_backups(backups_dir(settings.DATA_DIR)):
        if wanted <= set(info.migrations) and info.app_version not in ("", "unknown"):
            versions.add(info.app_version)
    newer = [v for v in versions if _parsed(v) > Version(__version__)]
    return min(newer, key=_parsed) if newer else None


def _parsed(version: str) -> Version:
    """Order versions as packaging does; a label that is not a version sorts lowest."""
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def _db_facts(db_path: Path) -> list[tuple[str, str]]:
    facts = [("Database", str(db_path))]
    if db_path.exists():
        facts.append(("Size", size_words(db_path.stat().st_size)))
        facts.append(("It holds", describe_contents(db_path)))
    return facts


# --- the pages -------------------------------------------------------------------
def page_for(
    error: exceptions.MaintenanceError, *, final: bool = False, notice: ActionOutcome | None = None
) -> RecoveryPage:
    """Return the page for a start-up error (see docs/design.md section 4)."""
    page = _page_for(error, final)
    page.notice = notice
    return page


def _page_for(error: exceptions.MaintenanceError, final: bool) -> RecoveryPage:
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
                "Your database was created with a very old version of AurSwift (or another program) and cannot "
                "be automatically migrated to the current version.",
                "We recommend Backup & Start Fresh: your current database is kept aside unchanged, is never "
                "deleted, and can be inspected, downloaded or restored later from Backups in the back-office.",
            ],
            facts=_db_facts(Path(str(d.get("db_path") or live_db_path()))),
            actions=_actions("start_fresh", "cancel"),
        )
    if isinstance(error, exceptions.FingerprintMismatchError):
        return _mismatch_page(error)
    if isinstance(error, exceptions.MigrationFailedError):
        return _migration_failed_page(error)
    if isinstance(error, exceptions.DatabaseCorruptError):
        newest = backups.newest_verified(restorable_backups(error))
        options = [
            "Backup & Start Fresh: keeps the damaged database aside unchanged and starts with a new one "
            "(recommended when there is no recent backup).",
            "Try Repair: salvages what can still be read into a new database (rows on damaged pages are lost); "
            "the damaged file is kept aside unchanged.",
        ]
        actions = ["start_fresh", "repair"]
        facts = _db_facts(live_db_path())
        if newest is not None:
            options.append(
                "Restore from Backup: puts back a verified backup (the newest was made "
                f"{format_time(newest.created_at)}); anything recorded after it stays only in a restore point."
            )
            actions.append("restore")
            facts.append(("Newest verified backup", describe_backup(newest)))
        return RecoveryPage(
            error.title,
            "Your database appears to be corrupted.",
            [
                "AurSwift found damage in the database file, so it will not write to it. "
                "No repair has been attempted yet.",
                error.message,
            ],
            options=options,
            facts=facts,
            actions=_actions(*actions, "cancel"),
        )
    if isinstance(error, exceptions.InsufficientDiskSpaceError):
        return RecoveryPage(
            error.title,
            "Insufficient disk space for migration.",
            ["Please free up disk space before proceeding. Nothing was changed."],
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
        needed = version_needed(list(d.get("unknown", [])))
        need = f"AurSwift {needed} or newer" if needed else f"a version of AurSwift newer than {__version__}"
        return RecoveryPage(
            error.title,
            "This database was last used by a newer version of AurSwift.",
            [
                f"This is AurSwift {__version__}; the database was upgraded by "
                f"{f'AurSwift {needed}' if needed else 'a newer version'}, so this version cannot use it safely.",
                f"Install {need} to open it. Nothing was changed.",
            ],
            facts=[("Version needed", needed or f"newer than {__version__}"), ("This version", __version__)],
            actions=_actions("quit"),
            severity="error",
        )
    return RecoveryPage(error.title, error.message, actions=_actions("retry", "quit"), severity="error")


def _backup_facts(error: exceptions.MaintenanceError) -> list[tuple[str, str]]:
    backup = error.details.get("backup_path")
    if not backup:
        return []
    path = Path(str(backup))
    if not path.exists():
        return [("Backup file", path.name)]
    info = backups.read_info(path)
    return [
        ("Backup location", str(path.parent)),
        ("Backup file", path.name),
        ("Made", format_time(info.created_at)),
        ("Size", size_words(info.size)),
        ("Database of", holds_words(holds_version(info))),
    ]


def _migration_failed_page(error: exceptions.MigrationFailedError) -> RecoveryPage:
    d = error.details
    step = STEP_WORDS.get(str(d.get("failed_step") or ""), str(d.get("failed_step")))
    cause = str(d.get("cause") or error.message)
    known = bool(d.get("known_failure"))
    previous = previous_version()
    paragraphs = []
    if known:
        paragraphs.append(error.message)
        paragraphs.append(
            "This start changed nothing. Press Try Again only if something changed since (for example, support "
            "fixed a problem in the data); it is backed up first and restored again if it fails."
        )
    else:
        paragraphs += [
            "The database migration encountered an error. Your database has been restored to its previous state.",
            f"The upgrade to AurSwift {__version__} failed while {step}: {cause}",
            "It will not be run again on this database unless you press Try Again or a new release arrives.",
        ]
    options = []
    actions = []
    if previous:
        options.append(
            f"Keep using version {previous}: AurSwift restarts with the version you used before; "
            f"{__version__} is not offered again (a newer release will be)."
        )
        actions.append("keep_previous")
    if restorable_backups(error):
        options.append(
            "Restore from Backup: puts back an older backup that you choose; the upgrade is not run again afterwards."
        )
        actions.append("restore")
    options += [
        "Backup & Start Fresh: keeps your database aside unchanged and starts with a new, empty one.",
        "Try Again: runs the upgrade once more (it is backed up first and restored again if it fails).",
    ]
    actions += ["start_fresh", "try_again", "cancel"]
    return RecoveryPage(
        "Database Migration Failed",
        "This update already failed on this database."
        if known
        else "Failed to migrate your database to the current version.",
        paragraphs,
        options=options,
        facts=_backup_facts(error),
        actions=_actions(*actions),
    )


def _mismatch_page(error: exceptions.FingerprintMismatchError) -> RecoveryPage:
    names = list(error.details.get("mismatches", []))
    previous = previous_version()
    options = []
    actions = []
    if previous:
        options.append(
            f"Keep using version {previous}: AurSwift restarts with the version you used before, until a "
            "corrected release arrives."
        )
        actions.append("keep_previous")
    options += [
        "Accept the Changed Migration: only if AurSwift support or your developer confirmed the change is "
        "deliberate. A manager records it with a reason; tables and data are not changed.",
        "Backup & Start Fresh: keeps your database aside unchanged and starts with a new, empty one.",
    ]
    actions += ["accept", "start_fresh", "cancel"]
    return RecoveryPage(
        "Database Migration Failed",
        "Failed to migrate your database to the current version.",
        [
            f"This version of AurSwift ({__version__}) contains a changed copy of a database migration your shop "
            f"has already run: {', '.join(names)}. Running it could damage your data, so AurSwift stopped before "
            "changing anything. Nothing was changed.",
            "Restoring a backup would not help: the backups have the same migration applied, and this version "
            "would refuse them the same way.",
        ],
        options=options,
        facts=_db_facts(live_db_path()),
        actions=_actions(*actions),
    )


# --- what an action will do (the confirm page) -------------------------------------
@dataclass
class ConfirmPage:
    action: str
    title: str
    steps: list[str]
    source: ManagerSource
    backups: list[tuple[str, str]] = field(default_factory=list)  # (name, description) to choose from
    default_backup: str = ""
    changed_migrations: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def no_manager_word(self) -> str:
        return NO_MANAGER_WORD

    @property
    def source_text(self) -> str:
        s = self.source
        if s.where == "live":
            return (
                "A manager's PIN is needed. It is checked against the staff list in the current database, "
                "read without changing it."
            )
        if s.where == "backup" and s.backup is not None:
            return (
                f"A manager's PIN is needed. The current database {s.live_problem}, so "
                f"the PIN is checked against the staff list in the newest verified backup, {s.backup.name} "
                f"(made {format_time(s.backup.created_at)})."
            )
        return (
            f"No manager could be found: the current database {s.live_problem or 'has no staff list'}, and no "
            "verified backup has a manager with a PIN. AurSwift cannot check a PIN, so whoever owns this computer "
            f"confirms instead by typing {NO_MANAGER_WORD}. If your shop has managers, press Back, then Cancel, "
            "and contact AurSwift support first: the files are not changed until you confirm."
        )


def confirm_page(action: str, error: exceptions.MaintenanceError | None, source: ManagerSource) -> ConfirmPage:
    """Return what ``action`` will do, step by step, before a manager confirms it."""
    db_path = live_db_path()
    folder = db_path.parent
    size = size_words(db_path.stat().st_size) if db_path.exists() else "no file"
    aside = f"{db_path.name}.old.<date-time>"
    if action == "start_fresh":
        return ConfirmPage(
            action,
            "Backup & Start Fresh",
            [
                f"The current database {db_path.name} ({size}; it holds {describe_contents(db_path)}) is renamed "
                f"to {aside} in {folder}. Renaming does not change a byte; the file is never deleted, and a "
                "manager can verify, download or restore it from Backups in the back-office.",
                f"A new database is created for AurSwift {__version__}.",
                "The new shop is empty, set up with the details below; or, if you choose it, the demo café with "
                "a sample menu and two members of staff.",
            ],
            source,
        )
    if action == "restore":
        items = restorable_backups(error)
        runs = history.read_history(settings.DATA_DIR)
        after = (
            f" The upgrade to {__version__} that failed is not run again; afterwards you can keep using the "
            "previous version, try again or start fresh."
            if isinstance(error, exceptions.MigrationFailedError)
            else " If the backup is from an older version, it is then upgraded the usual, guarded way."
        )
        return ConfirmPage(
            action,
            "Restore from Backup",
            [
                f"First a restore point of the current database ({size}) is made in {backups_dir(settings.DATA_DIR)}"
                " (a damaged database is copied byte for byte).",
                "Then the backup you choose replaces the database. Anything recorded after that backup was made "
                "(sales, products, staff changes) is only in the restore point." + after,
            ],
            source,
            backups=[(b.name, describe_backup(b, runs)) for b in items],
            default_backup=items[0].name if items else "",
        )
    if action == "repair":
        return ConfirmPage(
            action,
            "Try Repair",
            [
                f"The damaged database ({size}) is copied, and everything that can still be read is salvaged "
                "into a new file. Rows on damaged pages are lost; you then see, per table, how many rows were "
                "recovered and lost.",
                f"If the salvaged file passes the integrity check, it becomes the database and the damaged one is "
                f"kept aside unchanged as {aside} in {folder}. If it does not, nothing is changed.",
            ],
            source,
        )
    if action == "accept":
        names = list(getattr(error, "mismatches", []) or [])
        return ConfirmPage(
            action,
            "Accept the Changed Migration",
            [
                f"The changed migration{'s' if len(names) != 1 else ''} {', '.join(names)} "
                f"{'are' if len(names) != 1 else 'is'} recorded as deliberate: the new fingerprint replaces the "
                "old one in the database, and your reason and name are kept in the upgrade history.",
                "Tables and data are not changed. Then AurSwift starts as usual.",
                "Only do this if AurSwift support or your developer told you the change is deliberate.",
            ],
            source,
            changed_migrations=names,
        )
    raise KeyError(action)
