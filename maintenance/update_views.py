"""The update prompts in the window: Update available → download progress → Restart to update.

Anyone signed in on the till sees them; only managers (``maintenance.manage_updates``)
can act on them.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from maintenance.updates import install
from maintenance.updates.client import UpdateError
from maintenance.updates.notes import render_notes
from maintenance.updates.service import state
from pos.decorators import till_user_required
from pos.models import Business

PERMISSION = "maintenance.manage_updates"


@till_user_required
def prompt(request: HttpRequest) -> HttpResponse:
    update = state()
    return render(
        request,
        "updates/prompt.html",
        {
            "update": update,
            "notes": render_notes(update.offer.notes) if update.offer and update.offer.notes else "",
            "can_update": request.user.has_perm(PERMISSION),
            "business": Business.objects.first(),
        },
    )


@till_user_required
def status(request: HttpRequest) -> JsonResponse:
    return JsonResponse(state().as_dict())


@require_POST
@till_user_required
def act(request: HttpRequest, action: str) -> HttpResponse:
    if action == "later":
        state().remind_later()
        return redirect("pos:till")
    if not request.user.has_perm(PERMISSION):
        messages.error(request, "Only a manager can install updates.")
        return redirect("updates:prompt")
    try:
        if action == "now":
            state().start_download()
        elif action == "skip":
            state().skip()
            return redirect("pos:till")
        elif action == "restart":
            state().restart_to_update()
            return render(request, "updates/restarting.html", {"exit_code": install.RESTART_TO_UPDATE_EXIT})
        elif action == "check":
            state().check_now()
    except UpdateError as err:
        messages.error(request, err.message)
    return redirect("updates:prompt")
