"""Read-only descriptions of database files for the pages: what a file holds, which version made it, when.

Used by the admin's maintenance pages and by the start-up's recovery pages;
everything here only reads (a file being described may be damaged or belong
to another program), and never leaves SQLite's side files behind.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone

from maintenance.config import live_db_path
from maintenance.db import backups, health, history
from maintenance.db.sqlite_tools import leaving_no_side_files, open_readonly


def local_time(value: datetime | str | None) -> str:
    """Return a time in the shop's time zone and locale."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return str(formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT"))


def size_words(n: int) -> str:
    return str(filesizeformat(n)).replace("\xa0", " ")


_inspecting = threading.RLock()


@contextlib.contextmanager
def inspect_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """Read a database file that nobody writes now (a backup, a kept-aside or refused database).

    Read-only, and one at a time in this process: two readers of one WAL-mode
    file at once could leave the ``-shm`` that SQLite creates behind.
    """
    with _inspecting, leaving_no_side_files(path), open_readonly(path) as conn:
        yield conn


def describe_contents(path: Path) -> str:
    """Say what a database file holds (products, sales, staff), read-only; or why it cannot be read."""
    try:
        with inspect_readonly(path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "pos_product" not in tables:
                own = sorted(t for t in tables if not t.startswith("sqlite_"))
                if not own:
                    return "no tables"
                shown = ", ".join(own[:6]) + (f" and {len(own) - 6} more" if len(own) > 6 else "")
                return f"tables of another program: {shown}"
            parts = [_count(conn, "pos_product", "product")]
            if "pos_order" in tables:
                sales, last = conn.execute(
                    "SELECT count(*), max(paid_at) FROM pos_order WHERE status IN ('paid', 'refunded')"
                ).fetchone()
                parts.append(f"{sales} sale{'s' if sales != 1 else ''}")
                if last:
                    parts[-1] += f" (the last on {local_time(str(last).replace(' ', 'T'))})"
            if "pos_staffprofile" in tables:
                parts.append(_count(conn, "pos_staffprofile", "member of staff", "members of staff"))
            return ", ".join(parts)
    except sqlite3.DatabaseError as err:
        return f"cannot be read ({err})"


def _count(conn: sqlite3.Connection, table: str, one: str, many: str | None = None) -> str:
    n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed table names
    return f"{n} {one if n == 1 else (many or one + 's')}"


def holds_version(info: backups.BackupInfo, runs: list[dict] | None = None) -> str:
    """Return the AurSwift version that made the database a backup holds.

    A backup "before migration" is made by the new version but holds the
    database of the version before it: the upgrade history knows which.
    """
    if info.reason != "before_migration":
        return info.app_version
    runs = history.read_history(Path(settings.DATA_DIR)) if runs is None else runs
    for run in runs:
        if run.get("backup") and Path(str(run["backup"])).name == info.name:
            if run.get("from_version"):
                return str(run["from_version"])
            break
    return f"a version before {info.app_version}"


def holds_words(version: str) -> str:
    return version if version.startswith("a version") else f"AurSwift {version}"


@dataclass
class KeptAside:
    """A database kept aside by Backup & Start Fresh or Try Repair (never deleted automatically)."""

    path: Path
    created_at: datetime
    size: int
    contents: str

    @property
    def name(self) -> str:
        return self.path.name


def kept_aside_databases() -> list[KeptAside]:
    """Return the databases kept aside beside the live one, newest first, each described."""
    items = []
    for path in health.kept_aside_files(live_db_path()):
        stamp = re.search(r"\.old\.(\d{8}-\d{6})", path.name)
        created = None
        if stamp:
            with contextlib.suppress(ValueError):
                created = datetime.strptime(stamp.group(1), "%Y%m%d-%H%M%S")
        stat = path.stat()
        when = timezone.make_aware(created) if created else datetime.fromtimestamp(stat.st_mtime).astimezone()
        items.append(KeptAside(path, when, stat.st_size, describe_contents(path)))
    return sorted(items, key=lambda k: k.created_at, reverse=True)
