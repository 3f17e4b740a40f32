"""Fingerprints of applied migrations: Django keeps no checksum, so we do.

A fingerprint is the sha256 of what a migration *does*: its operations as
Django's migration serializer writes them, its ``atomic`` flag, and for
``RunPython`` the bytecode and constants of the functions it calls. So
reformatting a file, editing comments or renaming a local variable's
whitespace does not change it; changing an operation, a field, a SQL string or
the body of a data migration does. (Bytecode, not source text: source hashes
change with formatting; bytecode changes with behaviour. The price is that a
Python upgrade that changes bytecode would show every RunPython as changed —
``accept_migration`` exists for such deliberate cases.)

The ledger lives in the same database (table ``aurswift_migration_fingerprints``)
so that a restored backup carries the fingerprints that belong to it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import types
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db.migrations import Migration, RunPython
from django.db.migrations.writer import OperationWriter

LEDGER_TABLE = "aurswift_migration_fingerprints"
CREATE_LEDGER = f"""
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (app, name)
)
"""


def _code_fingerprint(code: types.CodeType) -> list[object]:
    """Return a stable description of a code object (no addresses, no line numbers)."""
    consts: list[object] = []
    for const in code.co_consts:
        consts.append(_code_fingerprint(const) if isinstance(const, types.CodeType) else repr(const))
    return [code.co_code.hex(), consts, list(code.co_names), code.co_argcount]


def _callable_fingerprint(func: object) -> object:
    code = getattr(func, "__code__", None)
    return _code_fingerprint(code) if code is not None else repr(func)


def fingerprint(migration: Migration) -> str:
    """Return the sha256 of what ``migration`` does."""
    operations: list[object] = []
    for operation in migration.operations:
        text, _imports = OperationWriter(operation, indentation=0).serialize()
        entry: list[object] = [text]
        if isinstance(operation, RunPython):
            entry.append(_callable_fingerprint(operation.code))
            entry.append(_callable_fingerprint(operation.reverse_code) if operation.reverse_code else None)
        operations.append(entry)
    payload = {"atomic": bool(getattr(migration, "atomic", True)), "operations": operations}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def read_ledger(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """Return ``{(app, name): sha256}``; empty when the ledger does not exist yet."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (LEDGER_TABLE,)).fetchone()
    if not exists:
        return {}
    return {(app, name): sha for app, name, sha in conn.execute(f"SELECT app, name, sha256 FROM {LEDGER_TABLE}")}  # noqa: S608


def write_fingerprints(conn: sqlite3.Connection, entries: Iterable[tuple[str, str, str]], source: str) -> None:
    """Record ``(app, name, sha256)`` rows in their own short transaction."""
    now = datetime.now(UTC).isoformat()
    with conn:
        conn.execute(CREATE_LEDGER)
        conn.executemany(
            f"INSERT OR REPLACE INTO {LEDGER_TABLE} (app, name, sha256, recorded_at, source) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [(app, name, sha, now, source) for app, name, sha in entries],
        )
