"""Middleware that keeps the local server private to the window that launched it.

Only requests carrying this launch's proof (a signed cookie set by the
launcher's one-time path, see ``aurswift.launch``) get in (docs/design.md section
6); Host is checked by Django (ALLOWED_HOSTS), CSRF by Django's middleware.
The start-up gate lives with start-up (``aurswift.startup.middleware``), the
swap gate with the restore it protects (``maintenance.middleware``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from aurswift.launch import session_is_launched

#: Paths that work without the launch proof (the launch itself, static files, a second launch knocking).
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
