"""Access decorators of the till, for its own views and for any app that adds pages to it."""

from __future__ import annotations

from functools import cache, wraps

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@cache
def _profile_with_user():
    """The staff profile and its user by user id, in one prepared query (models load after this module)."""
    from pos.models import StaffProfile
    from pos.services.prepared import Prepared

    return Prepared(
        lambda user_id: StaffProfile.objects.select_related("user").filter(user_id=user_id).order_by(), user_id=int
    )


def _load_till_user(request: HttpRequest) -> None:
    """Load the signed-in user and their staff profile in one query, before anything asks for ``request.user``.

    Django's own loader reads the user, and ``user.staff`` is then a second
    query. This takes the same checks (the session's backend is configured,
    the user may sign in, the session's auth hash matches) and accepts only
    what passes all of them; anything else — no profile, a hash to check
    against a fallback secret, another backend — is left to Django's loader.
    """
    if hasattr(request, "_cached_user") or not hasattr(request, "session"):
        return  # already loaded (or no auth middleware): nothing to save
    session = request.session
    backend_path = session.get(BACKEND_SESSION_KEY)
    if backend_path != MODEL_BACKEND or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
    except (KeyError, ValidationError, TypeError, ValueError):
        return
    if type(user_id) is not int or not 0 < user_id < 2**63:
        return  # left to Django's loader (a signed session holds what sign-in put there: an id)
    profile = _profile_with_user().first(user_id=user_id)
    if profile is None:
        return
    user = profile.user  # user.staff is the profile: select_related fills both sides of a one-to-one
    session_hash = session.get(HASH_SESSION_KEY)
    if not (
        ModelBackend().user_can_authenticate(user)
        and session_hash
        and constant_time_compare(session_hash, user.get_session_auth_hash())
    ):
        return
    request._cached_user = user  # type: ignore[attr-defined]  # what AuthenticationMiddleware's lazy user returns
    request.user = user


def till_user_required(view):
    """Send anyone not signed in with a till PIN to the sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        _load_till_user(request)
        if not request.user.is_authenticated or not hasattr(request.user, "staff"):
            return redirect("pos:signin")
        return view(request, *args, **kwargs)

    return wrapper
