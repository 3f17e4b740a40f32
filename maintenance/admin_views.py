"""Managers' maintenance pages inside Django admin: backups, health, upgrade history.

Each view parses the request, calls one maintenance service, and renders.
Backup names from a request are only ever resolved inside ``backups/``, and
kept-aside databases (``pos_system.db.old.<stamp>``, kept by Start Fresh and
Try Repair) only beside the live database, by their exact pattern.

The small read-only descriptions here (what a database file holds, which
version made the database a backup holds, release notes as HTML) are also
used by the start-up pages.
"""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from maintenance import exceptions
from maintenance.config import backups_dir, live_db_path
from maintenance.db import backups, health, history, jobs, preferences, recovery
from maintenance.db.sqlite_tools import leaving_no_side_files, open_readonly

BACKUP_JOB = "manual-backup"

#: Outcomes of the upgrade history, in words.
OUTCOME_WORDS = {
    "upgraded": "Upgraded",
    "created": "New database created",
    "failed_restored": "Failed; the database was restored",
    "restore_failed": "Failed; the restore failed too",
    "interrupted_run_restored": "Interrupted; the database was restored at the next start",
    "fingerprint_accepted": "Changed migration accepted",
    "start_fresh": "Backup & Start Fresh",
    "restored": "Restored from a backup",
    "repaired": "Repaired",
    "repair_failed": "Repair failed; nothing was changed",
    "kept_previous_version": "Went back to the previous version",
    "up_to_date": "Up to date",
}
STATE_WORDS = {
    "new": "No database yet",
    "empty": "An empty database",
    "legacy": "A database from an older program (cannot be upgraded)",
    "managed": "An AurSwift database",
    "corrupt": "Damaged",
    "unknown": "Unknown",
}
UPDATE_STATE_WORDS = {
    "idle": "No update in progress",
    "available": "An update is available",
    "downloading": "Downloading the update",
    "ready": "Downloaded; installed at the next restart",
    "failed": "The last attempt failed",
}


def _data_dir() -> Path:
    return settings.DATA_DIR


def _kept_aside_re() -> re.Pattern[str]:
    return re.compile(re.escape(live_db_path().name) + r"\.old\.\d{8}-\d{6}(-\d+)?")


def _backup(name: str) -> Path:
    """Return a backup in ``backups/`` or a kept-aside database beside the live one; 404 for anything else."""
    if _kept_aside_re().fullmatch(name or ""):
        folder = live_db_path().parent
        path = folder / name
        if path.resolve().parent == folder.resolve() and path.is_file():
            return path
        raise Http404(f"There is no kept-aside database called {name}.")
    try:
        return backups.resolve_backup(backups_dir(_data_dir()), name)
    except exceptions.BackupError as err:
        raise Http404(err.message) from err


# --- read-only descriptions -------------------------------------------------------
def local_time(value: datetime | str | None) -> str:
    """Return a time in the shop's time zone and locale."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


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
    runs = history.read_history(_data_dir()) if runs is None else runs
    for run in runs:
        if run.get("backup") and Path(str(run["backup"])).name == info.name:
            if run.get("from_version"):
                return str(run["from_version"])
            break
    return f"a version before {info.app_version}"


def holds_words(version: str) -> str:
    return version if version.startswith("a version") else f"AurSwift {version}"


_MD_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?!\w)"), r"<em>\1</em>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=True)
    for pattern, repl in _MD_INLINE:
        out = pattern.sub(repl, out)
    return out


def render_notes(text: str) -> SafeString:
    """Render release notes, a small safe subset of Markdown: headings, lists, paragraphs, `code`, **bold**, *em*.

    Everything is escaped first; only the tags written here are produced (no
    links, no raw HTML), so notes can never inject markup into the page.
    """
    out: list[str] = []
    lst: str | None = None
    para: list[str] = []

    def flush_para() -> None:
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal lst
        if lst:
            out.append(f"</{lst}>")
            lst = None

    for raw in (text or "").splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        bullet = re.match(r"^\s*[-*+]\s+(.*)$", line)
        numbered = re.match(r"^\s*\d+[.)]\s+(.*)$", line)
        if not line.strip():
            flush_para()
            close_list()
        elif heading:
            flush_para()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # page headings above stay the biggest
            out.append(f"<h{level}>{_inline(heading.group(2).strip().rstrip('#').strip())}</h{level}>")
        elif bullet or numbered:
            flush_para()
            kind = "ul" if bullet else "ol"
            if lst != kind:
                close_list()
                out.append(f"<{kind}>")
                lst = kind
            out.append(f"<li>{_inline((bullet or numbered).group(1))}</li>")
        else:
            close_list()
            para.append(line.strip())
    flush_para()
    close_list()
    return mark_safe("\n".join(out))  # noqa: S308 - every piece of text above went through html.escape


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
    items = []
    for path in health.kept_aside_files(live_db_path().parent):
        stamp = re.search(r"\.old\.(\d{8}-\d{6})", path.name)
        try:
            created = datetime.strptime(stamp.group(1), "%Y%m%d-%H%M%S") if stamp else None
        except ValueError:
            created = None
        stat = path.stat()
        when = timezone.make_aware(created) if created else datetime.fromtimestamp(stat.st_mtime).astimezone()
        items.append(KeptAside(path, when, stat.st_size, describe_contents(path)))
    return sorted(items, key=lambda k: k.created_at, reverse=True)


def _render(request: HttpRequest, admin_site, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {**admin_site.each_context(request), "title": title, **context})


def index(request: HttpRequest, admin_site) -> TemplateResponse:
    return _render(request, admin_site, "admin/maintenance/index.html", "Database maintenance")


def backup_list(request: HttpRequest, admin_site) -> TemplateResponse:
    # Read "running" once, before listing: if the job had finished by then, the list
    # below includes its backup; if not, the page polls and reloads when it ends.
    job = jobs.get(BACKUP_JOB)
    running = bool(job and job.running)
    finished = None if running else jobs.take_outcome(BACKUP_JOB)
    if finished and finished.error:
        messages.error(request, f"The backup was not made: {finished.error}")
    elif finished:
        messages.success(request, f"Backup saved and verified: {finished.result}.")
    items = backups.list_backups(backups_dir(_data_dir()))
    newest = backups.newest_verified(items)
    runs = history.read_history(_data_dir())
    rows = [
        {
            "info": b,
            "when": local_time(b.created_at),
            "holds": holds_words(holds_version(b, runs)),
            "contents": describe_contents(b.path),
        }
        for b in items
    ]
    return _render(
        request,
        admin_site,
        "admin/maintenance/backups.html",
        "Backups",
        backups=items,
        rows=rows,
        kept=[{"item": k, "when": local_time(k.created_at)} for k in kept_aside_databases()],
        folder=live_db_path().parent,
        newest=newest,
        retention=preferences.backup_retention(_data_dir()),
        running=running,
        progress_message=job.progress.message if running and job.progress else "",
    )


@require_POST
def backup_now(request: HttpRequest, admin_site) -> HttpResponse:
    def work(progress) -> str:
        info = backups.create_manual_backup(live_db_path(), backups_dir(_data_dir()), progress=progress)
        return info.name

    jobs.start(BACKUP_JOB, work)
    messages.info(request, "Backing up the database…")
    return redirect("admin:maintenance_backups")


def backup_progress(request: HttpRequest, admin_site) -> JsonResponse:
    job = jobs.get(BACKUP_JOB)
    return JsonResponse(job.as_dict() if job else {"running": False})


@require_POST
def verify(request: HttpRequest, admin_site, name: str) -> HttpResponse:
    path = _backup(name)
    kept = path.parent != backups_dir(_data_dir())
    try:
        backups.verify_backup(path)
    except exceptions.BackupVerificationError as err:
        messages.error(request, err.message)
        return redirect("admin:maintenance_backups")
    if not kept:
        messages.success(request, f"{name} is intact: checksum and integrity check passed.")
        return redirect("admin:maintenance_backups")
    try:
        backups.validate_backup(path)
        messages.success(request, f"{name} is intact (integrity check passed) and can be restored.")
    except exceptions.MaintenanceError as err:
        messages.warning(request, f"{name} passed the integrity check, but: {err.message}")
    return redirect("admin:maintenance_backups")


def download(request: HttpRequest, admin_site, name: str) -> FileResponse:
    return FileResponse(open(_backup(name), "rb"), as_attachment=True, filename=name)


def restore(request: HttpRequest, admin_site, name: str) -> HttpResponse:
    path = _backup(name)
    if request.method != "POST":
        info = backups.read_info(path)
        kept = path.parent != backups_dir(_data_dir())
        return _render(
            request,
            admin_site,
            "admin/maintenance/restore_confirm.html",
            "Restore a kept-aside database" if kept else "Restore a backup",
            backup=info,
            kept=kept,
            when=local_time(info.created_at),
            holds="" if kept else holds_words(holds_version(info)),
            contents=describe_contents(path),
        )
    try:
        point, applied = recovery.restore_while_running(path, live_db_path(), _data_dir())
    except exceptions.MaintenanceError as err:
        messages.error(request, f"{err.title}: {err.message}")
        return redirect("admin:maintenance_backups")
    note = f" and upgraded ({len(applied)} migrations)" if applied else ""
    kept = point.name if point else "—"
    messages.success(request, f"Restored {name}{note}. The database as it was is kept as restore point {kept}.")
    return redirect("admin:maintenance_backups")


@require_POST
def delete(request: HttpRequest, admin_site, name: str) -> HttpResponse:
    try:
        backups.delete_backup(_backup(name), backups_dir(_data_dir()))
        messages.success(request, f"Deleted {name}.")
    except exceptions.BackupError as err:
        messages.error(request, err.message)
    return redirect("admin:maintenance_backups")


@require_POST
def retention(request: HttpRequest, admin_site) -> HttpResponse:
    try:
        preferences.set_backup_retention(_data_dir(), int(request.POST.get("keep", "")))
        messages.success(request, "Retention saved.")
    except ValueError as err:
        messages.error(request, str(err) if "between" in str(err) else "Enter a whole number.")
    return redirect("admin:maintenance_backups")


def health_page(request: HttpRequest, admin_site) -> HttpResponse:
    if request.method == "POST":
        report = health.run_and_save(live_db_path(), _data_dir())
        level = messages.SUCCESS if report.healthy else messages.ERROR
        messages.add_message(request, level, f"Full check finished: {report.integrity}.")
        return redirect("admin:maintenance_health")
    current = health.check_health(live_db_path(), _data_dir(), integrity=False)
    last = health.last_health(_data_dir())
    return _render(
        request,
        admin_site,
        "admin/maintenance/health.html",
        "Database health",
        report=current,
        state=STATE_WORDS.get(current.classification, current.classification),
        last=last,
        last_when=local_time(last.get("checked_at")) if last else "",
    )


def history_page(request: HttpRequest, admin_site) -> TemplateResponse:
    runs = history.read_history(_data_dir())
    for run in runs:
        run["started_words"] = local_time(run.get("started_at"))
        run["outcome_words"] = OUTCOME_WORDS.get(run.get("outcome", ""), str(run.get("outcome", "")))
    return _render(request, admin_site, "admin/maintenance/history.html", "Upgrade history", runs=runs)


def updates_page(request: HttpRequest, admin_site) -> HttpResponse:
    from maintenance.updates import install
    from maintenance.updates.service import state

    update = state()
    fallback = install.last_fallback(_data_dir())
    if request.method == "POST":
        update.check_now()
        if update.error:
            messages.error(request, update.error)
        else:
            messages.success(request, "Checked for updates.")
        return redirect("admin:maintenance_softwareupdate_changelist")
    return _render(
        request,
        admin_site,
        "admin/maintenance/updates.html",
        "Software updates",
        update=update,
        channel=settings.AURSWIFT_UPDATE_URL,
        installed=install.current(_data_dir()),
        fallback=fallback,
        fallback_when=local_time(fallback.get("at")) if fallback else "",
        failed=[{**f, "when": local_time(f.get("at"))} for f in install.failed_versions(_data_dir())],
        state_words=UPDATE_STATE_WORDS.get(update.status, update.status),
        notes=render_notes(update.offer.notes) if update.offer and update.offer.notes else "",
        every_hours=settings.AURSWIFT_UPDATE_CHECK_HOURS,
    )
