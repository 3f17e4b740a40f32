"""The one-time path the launcher prints: it opens the window's session."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect

SESSION_FLAG = "aurswift_launch_ok"


def open_session(request: HttpRequest, token: str) -> HttpResponse:
    """Mark this browser session as the launcher's own, then show the till."""
    expected = settings.AURSWIFT_LAUNCH_SECRET
    if not expected or not secrets.compare_digest(token, expected):
        return HttpResponseForbidden("This link is not valid for the running AurSwift.")
    request.session[SESSION_FLAG] = True
    return HttpResponseRedirect("/")
