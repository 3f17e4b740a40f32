"""The start-up gate: every page leads to the start-up screen until the database is ready.

A damaged database met while the till is in use also leads there (the
corruption page) instead of a stack trace.
"""

from __future__ import annotations

import sqlite3

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string

from aurswift import startup
from aurswift.security import OPEN_PATHS


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
            if startup.current() is not None and not request.path.startswith("/startup/"):
                return redirect("startup:screen")
            # No start-up screen to go to, or the screen itself met the damage: a page that reads nothing
            # (no request context, so no signed-in user is looked up), never a redirect to itself.
            page = render_to_string("recovery/standalone_corrupt.html", {"message": str(exception)})
            return HttpResponse(page, status=503)
        return None
