"""The start-up screen and the recovery pages (docs/design.md section 4 scenarios).

Views only read the start-up state and call its actions; they never touch
the database themselves (it may be missing, old or damaged while they run).

Destructive actions (:data:`pages.DESTRUCTIVE`) go through a confirm page
that says what will happen and takes a manager's PIN; the POST checks the
form and the PIN before anything is changed. Only the actions the current
page offers are accepted.
"""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aurswift import startup
from aurswift.startup import pages
from aurswift.startup.state import PIN_RE, ActionRunning, NotConfirmed, find_managers
from maintenance import exceptions
from maintenance.config import live_db_path
from maintenance.db.progress import CHECKLIST
from pos.services.setup import ShopSetup

log = logging.getLogger(__name__)

DEFAULT_VAT = [("Standard", "20"), ("Reduced", "5"), ("Zero", "0")]


def _state(request: HttpRequest) -> startup.Startup | None:
    return startup.current()


def _page(state: startup.Startup, *, notice: bool = False) -> pages.RecoveryPage:
    # What the last action did stays on the page until the next action (a reload shows it again).
    return pages.page_for(state.error, final=state.final, notice=state.outcome if notice else None)


def screen(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    if state is None:
        return redirect("/")
    if state.status == startup.CLOSED:
        return render(request, "recovery/closed.html", {"exit_code": state.exit_code})
    if state.status == startup.READY:
        credentials, state.credentials = state.credentials, None  # shown once: they are secrets
        outcome = state.outcome  # what the recovery action did: no secret, so a reload shows it again
        if credentials or outcome:
            return render(request, "startup/welcome.html", {"credentials": credentials, "outcome": outcome})
        return redirect("/")
    if state.status == startup.RECOVERY and state.error is not None:
        page = _page(state, notice=True)
        return render(request, "recovery/page.html", {"page": page, "error": state.error}, status=503)
    steps = [(step.value, step.label) for step in CHECKLIST]
    return render(request, "startup/progress.html", {"snapshot": state.snapshot(), "steps": steps})


def status(request: HttpRequest) -> JsonResponse:
    state = _state(request)
    if state is None:
        return JsonResponse({"status": startup.READY})
    return JsonResponse(state.snapshot())


def _offered(state: startup.Startup, name: str) -> bool:
    if state.status != startup.RECOVERY or state.error is None:
        return False
    if name in state_page_names(state):
        return True
    # the repair result page offers Start Fresh and Continue after a repair
    return name == "start_fresh" and isinstance(state.error, exceptions.DatabaseCorruptError)


def state_page_names(state: startup.Startup) -> set[str]:
    return pages.page_for(state.error, final=state.final).action_names


def _form_defaults(post=None) -> dict:
    post = post or {}
    vat = []
    for i, (name, rate) in enumerate(DEFAULT_VAT, start=1):
        vat.append((i, post.get(f"vat_name_{i}", name), post.get(f"vat_rate_{i}", rate)))
    return {
        "new_shop": post.get("new_shop", "empty"),
        "shop_name": post.get("shop_name", ""),
        "vat": vat,
        "manager_first_name": post.get("manager_first_name", ""),
        "manager_last_name": post.get("manager_last_name", ""),
        "manager_username": post.get("manager_username", "manager"),
        "backup": post.get("backup", ""),
        "reason": post.get("reason", ""),
    }


def _render_confirm(request, state, name: str, *, errors=None, form=None, status=200) -> HttpResponse:
    source = find_managers(live_db_path(), _data_dir())
    confirm = pages.confirm_page(name, state.error, source)
    form = form or _form_defaults()
    if not form["backup"]:
        form["backup"] = confirm.default_backup
    return render(
        request,
        "recovery/confirm.html",
        {"confirm": confirm, "form": form, "errors": errors or [], "page_title": state.error.title},
        status=status,
    )


def _data_dir():
    from django.conf import settings

    return settings.DATA_DIR


def confirm(request: HttpRequest, name: str) -> HttpResponse:
    """What a destructive action will do, and the manager's PIN that confirms it."""
    state = _state(request)
    if state is None:
        return HttpResponseNotFound("No start-up in progress.")
    if name not in pages.DESTRUCTIVE or not _offered(state, name):
        return redirect("startup:screen")
    return _render_confirm(request, state, name)


def _shop_setup(post) -> tuple[ShopSetup | None, list[str]]:
    """Parse the first-run wizard (an empty shop); return it and what is wrong with it."""
    errors = []
    name = post.get("shop_name", "").strip()
    if not name:
        errors.append("Type the shop's name.")
    elif len(name) > 120:
        errors.append("The shop's name is at most 120 characters.")
    rates: list[tuple[str, int]] = []
    for i in range(1, len(DEFAULT_VAT) + 1):
        rate_name = post.get(f"vat_name_{i}", "").strip()
        rate = post.get(f"vat_rate_{i}", "").strip().replace(",", ".").rstrip("%").strip()
        if not rate_name and not rate:
            continue
        try:
            bp = round(float(rate) * 100)
            if not rate_name or not 0 <= bp <= 10000 or len(rate_name) > 40:
                raise ValueError
        except ValueError:
            errors.append(f"VAT rate {i}: give a name and a percentage between 0 and 100.")
            continue
        if any(n.lower() == rate_name.lower() for n, _ in rates):
            errors.append(f"VAT rate {i}: {rate_name} is listed twice.")
            continue
        rates.append((rate_name, bp))
    if not rates:
        errors.append("Give at least one VAT rate.")
    username = post.get("manager_username", "").strip()
    try:
        get_user_model().username_validator(username)
        if not username:
            raise ValidationError("Type the manager's user name.")
    except ValidationError as err:
        errors.extend(f"User name: {m}" for m in err.messages)
    password = post.get("manager_password", "")
    try:
        validate_password(password)
    except ValidationError as err:
        errors.extend(f"Back-office password: {m}" for m in err.messages)
    if password != post.get("manager_password2", ""):
        errors.append("The two back-office passwords differ.")
    new_pin = post.get("manager_new_pin", "")
    if not PIN_RE.fullmatch(new_pin):
        errors.append("The new manager's till PIN is 4 to 8 digits.")
    if errors:
        return None, errors
    return (
        ShopSetup(
            name=name,
            vat_rates=rates,
            manager_first_name=post.get("manager_first_name", "").strip()[:150],
            manager_last_name=post.get("manager_last_name", "").strip()[:150],
            manager_username=username,
            manager_password=password,
            manager_pin=new_pin,
        ),
        [],
    )


def _destructive(request: HttpRequest, state: startup.Startup, name: str) -> HttpResponse:
    post = request.POST
    form = _form_defaults(post)
    errors: list[str] = []
    shop = None
    if name == "start_fresh" and form["new_shop"] != "demo":
        shop, errors = _shop_setup(post)
    if name == "restore":
        offered = {b.name for b in pages.restorable_backups(state.error)}
        if form["backup"] not in offered:
            errors.append("Choose one of the backups listed.")
    if name == "accept" and not form["reason"].strip():
        errors.append("Say why the change is deliberate (it is kept in the upgrade history).")
    if errors:
        return _render_confirm(request, state, name, errors=errors, form=form, status=400)
    try:
        who = state.confirm_manager(post.get("pin", ""), post.get("typed", ""))
    except NotConfirmed as err:
        return _render_confirm(request, state, name, errors=[err.message], form=form, status=403)
    log.info("recovery action %s confirmed by %s", name, who)
    if name == "start_fresh":
        state.backup_and_start_fresh(who, shop=shop, demo_shop=form["new_shop"] == "demo")
    elif name == "restore":
        state.restore_from_backup(who, form["backup"])
    elif name == "repair":
        report = state.try_repair(who)
        return render(request, "recovery/repair_result.html", {"report": report, "outcome": state.outcome})
    elif name == "accept":
        state.accept_changed_migrations(who, form["reason"].strip())
    return redirect("startup:screen")


@require_POST
def action(request: HttpRequest, name: str) -> HttpResponse:
    state = _state(request)
    if state is None:
        return HttpResponseNotFound("No start-up in progress.")
    if name not in pages.DESTRUCTIVE | pages.OPEN | {"continue"}:
        return HttpResponseNotFound("Unknown action.")
    try:
        with state.one_action():  # whether it is still offered is decided inside: the first press may have changed it
            return _act(request, state, name)
    except ActionRunning:
        log.info("recovery action %s dropped: another one is running", name)
        return redirect("startup:screen")


def _act(request: HttpRequest, state: startup.Startup, name: str) -> HttpResponse:
    if name in {"quit", "cancel", "ok"}:
        state.quit()
        return render(request, "recovery/closed.html", {"exit_code": 0})
    if name == "continue" and state.status == startup.RECOVERY:
        state.retry(keep_outcome=True)  # after a repair: start again on the repaired database
        return redirect("startup:screen")
    if not _offered(state, name):
        return redirect("startup:screen")
    try:
        if name in pages.DESTRUCTIVE:
            return _destructive(request, state, name)
        if name == "keep_previous":
            state.keep_previous_version()
            return render(request, "recovery/closed.html", {"exit_code": state.exit_code, "keep_previous": True})
        if name == "try_again":
            state.retry(try_failed_upgrade=True)
        elif name == "retry":
            state.retry()
    except exceptions.MaintenanceError as err:
        _keep_page_on_refusal(state, name, err)
    except Exception as err:
        log.exception("recovery action %s failed", name)
        _keep_page_on_refusal(
            state, name, exceptions.MaintenanceError(f"{name.replace('_', ' ').capitalize()} failed: {err}")
        )
    return redirect("startup:screen")


def _keep_page_on_refusal(state: startup.Startup, name: str, err: exceptions.MaintenanceError) -> None:
    """Show why an action did not happen on the same page (its buttons stay), unless the database changed."""
    from aurswift.startup.state import ActionOutcome

    refused = isinstance(err, exceptions.UpgradeRefused | exceptions.RecoveryInProgressError) and not isinstance(
        err, exceptions.DatabaseCorruptError | exceptions.LegacyDatabaseError | exceptions.DatabaseLockedError
    )
    if refused and state.error is not None:
        state.outcome = ActionOutcome(f"{pages.ACTION_LABELS.get(name, name)} did not happen", [err.message])
    else:
        state.error = err


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
