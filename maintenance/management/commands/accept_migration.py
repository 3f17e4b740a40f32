"""``manage.py accept_migration APP NAME --reason TEXT``: accept a deliberate change.

Like Flyway's ``repair``: when a developer knowingly changed an applied
migration (say, a Python upgrade changed a data migration's bytecode), record
the new fingerprint so the guarded upgrade stops refusing. Logged in the
upgrade history with the reason.
"""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from maintenance.db import fingerprints, history
from maintenance.db.classify import load_migrations
from maintenance.db.upgrade import _now, live_db_path


class Command(BaseCommand):
    help = "Accept the current code of an applied migration whose fingerprint changed (logged)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("app")
        parser.add_argument("name")
        parser.add_argument("--reason", required=True, help="why the change is deliberate (kept in the history)")

    def handle(self, *args, app: str, name: str, reason: str, **options) -> None:
        loader = load_migrations()
        migration = loader.graph.nodes.get((app, name))
        if migration is None:
            raise CommandError(f"This build has no migration {app}.{name}.")
        new = fingerprints.fingerprint(migration)
        conn = sqlite3.connect(live_db_path(), timeout=10)
        try:
            old = fingerprints.read_ledger(conn).get((app, name))
            fingerprints.write_fingerprints(conn, [(app, name, new)], source="accepted")
        finally:
            conn.close()
        history.append_run(
            settings.DATA_DIR,
            {
                "started_at": _now(),
                "finished_at": _now(),
                "outcome": "fingerprint_accepted",
                "migration": f"{app}.{name}",
                "old_sha256": old,
                "new_sha256": new,
                "reason": reason,
            },
        )
        self.stdout.write(f"Accepted {app}.{name}: {old or 'none'} -> {new}")
