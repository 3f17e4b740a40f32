"""Managers' maintenance pages inside Django admin: backups, health, upgrade history.

Each view parses the request, calls one maintenance service, and renders.
Backup names from a request are only ever resolved inside ``backups/``, and
kept-aside databases (``pos_system.db.old.<stamp>``, kept by Start Fresh and
Try Repair) only beside the live database, by their exact pattern.

What a database file holds and which version made it: ``maintenance.describe``;
release notes as HTML: ``maintenance.updates.notes``.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from maintenance import exceptions
from maintenance.config import MaintenanceConfig, backups_dir, live_db_path
from maintenance.db import backups, health, history, jobs, preferences, priority, recovery
from maintenance.describe import (
    describe_contents,
    holds_version,
    holds_words,
    kept_aside_databases,
    local_time,
)
from maintenance.updates.notes import render_notes

BACKUP_JOB = "manual-backup"

#: Outcomes of the upgrade history, in words.
OUTCOME_WORDS = {
    "upgraded": "Upgraded",
    "created": "New database created",
    "failed_restored": "Failed; the database was restored",
    "stopped_restored": "Stopped (Ctrl-C); the database was restored",
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
        progress_message=job.progress.message if job is not None and running and job.progress else "",
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
        point, applied = recovery.restore_while_running(path, MaintenanceConfig.from_settings())
    except exceptions.MaintenanceError as err:
        messages.error(request, f"{err.title}: {err.message}")
        return redirect("admin:maintenance_backups")
    note = f" and upgraded ({len(applied)} migrations)" if applied else ""
    kept_as = point.name if point else "—"
    messages.success(request, f"Restored {name}{note}. The database as it was is kept as restore point {kept_as}.")
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
        preferences.set_backup_retention(_data_dir(), request.POST.get("keep", ""))
        messages.success(request, "Retention saved.")
    except exceptions.InvalidSettingError as err:
        messages.error(request, err.message)
    return redirect("admin:maintenance_backups")


def health_page(request: HttpRequest, admin_site) -> HttpResponse:
    if request.method == "POST":
        # At low priority in a thread of its own: the till's requests get the CPU first.
        report = priority.in_background(lambda: health.run_and_save(live_db_path(), _data_dir()), name="db-health")
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
