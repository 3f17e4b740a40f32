"""The start-up screen and the recovery pages (DESIGN.md section 4 scenarios).

Views only read the start-up state and call its actions; they never touch
the database themselves (it may be missing, old or damaged while they run).
"""

from __future__ import annotations

import logging
import secrets

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aurswift import startup
from aurswift.startup.pages import page_for
from maintenance import exceptions

log = logging.getLogger(__name__)


def _state(request: HttpRequest) -> startup.Startup | None:
    return startup.current()


def screen(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    if state is None:
        return redirect("/")
    if state.status == startup.CLOSED:
        return render(request, "recovery/closed.html")
    if state.status == startup.READY:
        if state.credentials:
            credentials, state.credentials = state.credentials, None
            return render(request, "startup/welcome.html", {"credentials": credentials})
        return redirect("/")
    if state.status == startup.RECOVERY and state.error is not None:
        page = page_for(state.error, final=state.final)
        return render(request, "recovery/page.html", {"page": page, "error": state.error}, status=503)
    return render(request, "startup/progress.html", {"snapshot": state.snapshot()})


def status(request: HttpRequest) -> JsonResponse:
    state = _state(request)
    if state is None:
        return JsonResponse({"status": startup.READY})
    return JsonResponse(state.snapshot())


@require_POST
def action(request: HttpRequest, name: str) -> HttpResponse:
    state = _state(request)
    if state is None:
        return HttpResponseNotFound("No start-up in progress.")
    if state.status != startup.RECOVERY and name not in {"quit", "cancel", "ok"}:
        return redirect("startup:screen")
    try:
        if name == "start_fresh":
            state.backup_and_start_fresh()
        elif name == "restore":
            state.restore_from_backup()
        elif name == "repair":
            report = state.try_repair()
            return render(request, "recovery/repair_result.html", {"report": report})
        elif name == "retry":
            state.retry()
        elif name in {"quit", "cancel", "ok"}:
            state.quit()
            return render(request, "recovery/closed.html")
        else:
            return HttpResponseNotFound("Unknown action.")
    except exceptions.MaintenanceError as err:
        state.error = err
    except Exception as err:  # noqa: BLE001 - a recovery button must never end on a stack trace
        log.exception("recovery action %s failed", name)
        state.error = exceptions.MaintenanceError(f"{name.replace('_', ' ').capitalize()} failed: {err}")
    return redirect("startup:screen")


@require_POST
def focus(request: HttpRequest) -> HttpResponse:
    """Bring the window forward when a second launch asks (token from the instance record)."""
    state = _state(request)
    token = request.headers.get("X-AurSwift-Focus", "")
    expected = getattr(state, "focus_token", "") if state else ""
    if not state or not expected or not secrets.compare_digest(token, expected):
        return HttpResponse(status=403)
    if state.on_focus:
        state.on_focus()
    return HttpResponse(status=204)
