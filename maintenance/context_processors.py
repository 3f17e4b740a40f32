"""What every page of the till shows from this app: the update banner, and once, a failed update."""

from __future__ import annotations

from django.http import HttpRequest

from maintenance.updates.service import failure_notice, state


def update_banner(request: HttpRequest) -> dict[str, object]:
    """Return ``update_prompt`` and ``update_failure`` for signed-in till staff.

    Both are callables, which templates call only where they are used: the
    failure notice is given once, so only the page that shows it may take it.
    """
    if request.path.startswith("/startup/"):
        return {}  # the start-up and recovery pages read nothing from the database, not even who is signed in
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "staff"):
        return {}

    def update_prompt():
        update = state()
        return update if update.should_prompt() else None

    return {"update_prompt": update_prompt, "update_failure": failure_notice}
