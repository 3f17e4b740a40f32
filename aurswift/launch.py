"""The one-time path the launcher prints: it opens the window's session, once."""

from __future__ import annotations

import hashlib
import secrets
import threading

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.middleware.csrf import get_token

SESSION_FLAG = "aurswift_launch"
_used = threading.Event()


def launch_fingerprint() -> str:
    """Return what a session stores to prove it was opened by *this* launch."""
    return hashlib.sha256(settings.AURSWIFT_LAUNCH_SECRET.encode()).hexdigest()[:32]


def session_is_launched(request: HttpRequest) -> bool:
    return request.session.get(SESSION_FLAG) == launch_fingerprint()


def open_session(request: HttpRequest, token: str) -> HttpResponse:
    """Mark this browser session as the launcher's own, then show the start-up screen.

    The path works once per launch: a copied link is useless afterwards.
    """
    expected = settings.AURSWIFT_LAUNCH_SECRET
    if not expected or not secrets.compare_digest(token, expected) or _used.is_set():
        return HttpResponseForbidden(
            "<h1>Link no longer valid</h1><p>Open AurSwift from its own window.</p>", content_type="text/html"
        )
    _used.set()
    request.session.cycle_key()
    request.session[SESSION_FLAG] = launch_fingerprint()
    # Set the CSRF cookie now, once: otherwise the start-up screen's quick
    # succession of page loads can each mint a new cookie, and a form rendered
    # by one of them is refused with the cookie of another.
    get_token(request)
    return HttpResponseRedirect("/startup/")
