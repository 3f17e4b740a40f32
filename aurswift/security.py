"""Middleware that keeps the local server private to the window that launched it.

* Only sessions opened through the launcher's one-time path get in
  (DESIGN.md section 6); Host is checked by Django (ALLOWED_HOSTS), CSRF by
  Django's middleware.
* While start-up is not finished, every page leads to the start-up screen.
* A damaged database met while the till is in use leads to the corruption
  page instead of a stack trace.
* Every request passes the swap gate, so a restore never replaces the
  database under a sale being written (``maintenance.db.swap_gate``).
"""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect

from aurswift import startup
from aurswift.launch import session_is_launched

OPEN_PATHS = ("/launch/", "/static/", "/_instance/")


class LaunchSecretMiddleware:
    """Refuse (403) every request without this launch's proof, except the open paths.

    The proof is its own signed cookie (``aurswift.launch``), not a key in the
    session, so sign-in, sign-out and admin log-in/out never take it away.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.get_host()  # DisallowedHost (400) before anything else: no DNS rebinding
        needs_launch = settings.AURSWIFT_LAUNCH_SECRET and not request.path.startswith(OPEN_PATHS)
        if needs_launch and not session_is_launched(request):
            return HttpResponseForbidden(
                "<!doctype html><title>AurSwift</title><h1>Not allowed</h1>"
                "<p>This page is only available in the AurSwift window.</p>",
                content_type="text/html",
            )
        return self.get_response(request)


class StartupGateMiddleware:
    """Send every request to the start-up screen until the database is ready."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = startup.current()
        if (
            state is not None
            and state.status != startup.READY
            and not request.path.startswith(("/startup/", *OPEN_PATHS))
        ):
            return redirect("startup:screen")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DatabaseError | sqlite3.DatabaseError) and startup.is_malformed_database_error(
            exception
        ):
            startup.report_corruption(exception)
            if startup.current() is not None:
                return redirect("startup:screen")
            from django.template.response import TemplateResponse

            return TemplateResponse(
                request, "recovery/standalone_corrupt.html", {"message": str(exception)}, status=500
            ).render()
        return None


class SwapGateMiddleware:
    """Hold each request at the door while a restore swaps the database file."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from maintenance.db.swap_gate import gate

        with gate.shared():
            return self.get_response(request)
