"""Managers' maintenance pages inside Django admin: backups, health, upgrade history.

Each view parses the request, calls one maintenance service, and renders.
Backup names from a request are only ever resolved inside ``backups/``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from maintenance import exceptions
from maintenance.config import backups_dir, live_db_path
from maintenance.db import backups, health, history, jobs, preferences, recovery

BACKUP_JOB = "manual-backup"


def _data_dir() -> Path:
    return settings.DATA_DIR


def _backup(name: str) -> Path:
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
    return _render(
        request,
        admin_site,
        "admin/maintenance/backups.html",
        "Backups",
        backups=items,
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
    try:
        backups.verify_backup(_backup(name))
        messages.success(request, f"{name} is intact: checksum and integrity check passed.")
    except exceptions.BackupVerificationError as err:
        messages.error(request, err.message)
    return redirect("admin:maintenance_backups")


def download(request: HttpRequest, admin_site, name: str) -> FileResponse:
    return FileResponse(open(_backup(name), "rb"), as_attachment=True, filename=name)  # noqa: SIM115


def restore(request: HttpRequest, admin_site, name: str) -> HttpResponse:
    path = _backup(name)
    if request.method != "POST":
        return _render(
            request,
            admin_site,
            "admin/maintenance/restore_confirm.html",
            "Restore a backup",
            backup=backups.read_info(path),
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
    return _render(
        request,
        admin_site,
        "admin/maintenance/health.html",
        "Database health",
        report=current,
        last=health.last_health(_data_dir()),
    )


def history_page(request: HttpRequest, admin_site) -> TemplateResponse:
    return _render(
        request, admin_site, "admin/maintenance/history.html", "Upgrade history", runs=history.read_history(_data_dir())
    )


def updates_page(request: HttpRequest, admin_site) -> HttpResponse:
    from maintenance.updates import install
    from maintenance.updates.service import state

    update = state()
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
        fallback=install.last_fallback(_data_dir()),
        every_hours=settings.AURSWIFT_UPDATE_CHECK_HOURS,
    )
