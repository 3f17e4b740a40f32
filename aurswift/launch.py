"""The one-time path the launcher prints: it gives the window its launch proof, once.

The proof is a cookie of its own, not a key in the session: Django's
``login()`` and ``logout()`` flush the session, and a sign-out, a shift change
or an admin log-in must never lock the window (docs/design.md section 6).

* ``/launch/<secret>/`` sets ``aurswift_launch``: HttpOnly, SameSite=Strict,
  lasting as long as the window's browser session, signed with SECRET_KEY.
* Its value is an HMAC of *this* launch's secret, so the cookie of an earlier
  launch (another secret) is refused, and the cookie shows nothing of the secret.
* :class:`aurswift.security.LaunchSecretMiddleware` checks it on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.middleware.csrf import get_token

COOKIE_NAME = "aurswift_launch"
COOKIE_SALT = "aurswift.launch.proof"
_used = threading.Event()


def launch_fingerprint() -> str:
    """Return what the launch cookie carries to prove it was set by *this* launch."""
    secret = settings.AURSWIFT_LAUNCH_SECRET.encode()
    return hmac.new(secret, b"aurswift window launch proof", hashlib.sha256).hexdigest()


def request_is_launched(request: HttpRequest) -> bool:
    """Return True when the request carries this launch's proof cookie, whoever is signed in."""
    if not settings.AURSWIFT_LAUNCH_SECRET:
        return False
    proof = request.get_signed_cookie(COOKIE_NAME, default=None, salt=COOKIE_SALT)
    return proof is not None and secrets.compare_digest(proof, launch_fingerprint())


session_is_launched = request_is_launched  # the name LaunchSecretMiddleware imports


def set_launch_proof(response: HttpResponse) -> None:
    """Give the browser this launch's proof: never readable by scripts, never sent by another site."""
    response.set_signed_cookie(
        COOKIE_NAME,
        launch_fingerprint(),
        salt=COOKIE_SALT,
        httponly=True,
        samesite="Strict",
        path="/",
    )


def open_session(request: HttpRequest, token: str) -> HttpResponse:
    """Give this browser the launch proof, then show the start-up screen.

    The path works once per launch: a copied link is useless afterwards.
    """
    expected = settings.AURSWIFT_LAUNCH_SECRET
    if not expected or not secrets.compare_digest(token, expected) or _used.is_set():
        return HttpResponseForbidden(
            "<h1>Link no longer valid</h1><p>Open AurSwift from its own window.</p>", content_type="text/html"
        )
    _used.set()
    request.session.cycle_key()  # a session from before the launch (a copied cookie) is not carried over
    # Set the CSRF cookie now, once: otherwise the start-up screen's quick
    # succession of page loads can each mint a new cookie, and a form rendered
    # by one of them is refused with the cookie of another.
    get_token(request)
    response = HttpResponseRedirect("/startup/")
    set_launch_proof(response)
    return response
