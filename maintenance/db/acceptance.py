"""Accept a deliberate change to an applied migration (like Flyway's ``repair``), logged.

When a developer knowingly changed a migration that shops have already run,
the guarded upgrade refuses those shops (fingerprint mismatch) until someone
accepts the new code. Accepting records the new fingerprint and the reason
in the upgrade history; it never changes the schema or the data.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from maintenance import exceptions
from maintenance.db import busy, fingerprints, history, interrupts, writer_lock
from maintenance.db.classify import load_migrations


@dataclass(frozen=True)
class Accepted:
    migration: str
    old_sha256: str | None
    new_sha256: str


def accept_changed_migration(
    db_path: Path, data_dir: Path, app: str, name: str, *, reason: str, confirmed_by: str = ""
) -> Accepted:
    """Record the current fingerprint of ``app.name`` as the accepted one; return old and new."""
    if not reason.strip():
        raise exceptions.UpgradeRefused("Say why the change is deliberate (it is kept in the history).")
    migration = load_migrations().disk_migrations.get((app, name))
    if migration is None:
        raise exceptions.UpgradeRefused(f"This build has no migration {app}.{name}. Nothing was changed.")
    new = fingerprints.fingerprint(migration)
    timeout = busy.POLICY.timeout_s
    with writer_lock.held(data_dir), contextlib.closing(sqlite3.connect(db_path, timeout=timeout)) as conn:
        old = fingerprints.read_ledger(conn).get((app, name))
        with interrupts.finishing():  # a Ctrl-C cannot fall between the ledger row and its history line
            fingerprints.write_fingerprints(conn, [(app, name, new)], source="accepted")
            now = datetime.now().astimezone().isoformat(timespec="seconds")
            history.append_run(
                data_dir,
                {
                    "started_at": now,
                    "finished_at": now,
                    "outcome": "fingerprint_accepted",
                    "migration": f"{app}.{name}",
                    "old_sha256": old,
                    "new_sha256": new,
                    "reason": reason,
                    "confirmed_by": confirmed_by or "command line",
                },
            )
    return Accepted(f"{app}.{name}", old, new)
