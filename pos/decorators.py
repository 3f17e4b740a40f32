"""Access decorators of the till, for its own views and for any app that adds pages to it."""

from __future__ import annotations

from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def till_user_required(view):
    """Send anyone not signed in with a till PIN to the sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated or not hasattr(request.user, "staff"):
            return redirect("pos:signin")
        return view(request, *args, **kwargs)

    return wrapper
