"""Every request passes the swap gate, so a restore never replaces the database under a sale being written.

Each server thread keeps its database connection from one request to the next
(``CONN_MAX_AGE`` in settings): opening one costs milliseconds, and closing the
last one checkpoints and deletes the write-ahead log, with an fsync, after every
request. A kept connection is used again only if the database file is still the
one it was opened on, unchanged since the end of that thread's last request:

* a restore, a repair or "start fresh" puts another file at the path (another
  inode): the connection still reads the old, unlinked file;
* a file rewritten in place by anything but this app's own connections (a copy
  over it, a damaged disk) has another size or modification time, and pages the
  connection keeps in memory would hide it.

Otherwise the connection is dropped before the request runs, and the request
opens a fresh one on the file now at that path, as every request did before.
The check is one ``stat`` inside the gate, where no swap can happen. A
connection to a file changed in place is closed there and then, inside the
gate. One to a replaced file is closed in a thread of its own: SQLite never
checkpoints into, or deletes the log of, a file that was moved or unlinked
while it was open, so that close touches nothing at the path, and it may be
the last reference to a large unlinked file, which the kernel then frees
(half a second per GB): no till request should wait for that.

Another thread's checkpoint also changes the file's time: that thread's
connections simply reopen at their next request (rare: every thousand pages).
"""

from __future__ import annotations

import contextlib
import os
import threading

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from maintenance.db.swap_gate import gate

FILE_ATTR = "_aurswift_database_file"
"""Where a kept connection remembers the database file as it was at the end of its thread's last request."""


def database_file(conn) -> tuple[int, int, int, int] | None:
    """Return what identifies the connection's database file and its last change, or None if it has none."""
    if conn.vendor != "sqlite" or conn.is_in_memory_db():
        return None
    try:
        info = os.stat(conn.settings_dict["NAME"])
    except (OSError, TypeError, ValueError):
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _close_quietly(raw) -> None:
    with contextlib.suppress(Exception):  # a connection to a file that is gone: nothing left to do
        raw.close()


def drop_if_replaced(conn) -> bool:
    """Drop ``conn``'s open connection if its file was replaced or changed since its last request; return True then.

    Between requests a connection is idle (no transaction), so forgetting it is
    all it takes: Django opens a fresh one, with fresh state, at the next query.
    """
    if conn.connection is None or conn.vendor != "sqlite" or conn.is_in_memory_db():
        return False
    remembered = getattr(conn, FILE_ATTR, None)
    now = database_file(conn)
    if remembered is not None and remembered == now:
        return False
    if remembered is None or now is None or remembered[:2] == now[:2] or conn.in_atomic_block:
        conn.close()  # the same file (changed), or unknown: an ordinary close, here, inside the gate
        return True
    raw, conn.connection = conn.connection, None  # another file is at the path: this one is unlinked
    threading.Thread(target=_close_quietly, args=(raw,), name="aurswift-close-replaced-db", daemon=True).start()
    return True


def remember_file(conn) -> None:
    """Note the file as it is now, after this request's own writes, for the next request to compare."""
    if conn.connection is not None:
        setattr(conn, FILE_ATTR, database_file(conn))


class SwapGateMiddleware:
    """Hold each request at the door while a restore swaps the database file.

    Inside the gate, a kept connection to a file that is no longer the live
    database (or was changed behind its back) is dropped before the view runs.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with gate.shared():
            conn = connections[DEFAULT_DB_ALIAS]
            drop_if_replaced(conn)
            try:
                return self.get_response(request)
            finally:
                remember_file(conn)
