"""The till's own addresses, reversed once per URL name instead of on every request.

``reverse()`` walks the URL patterns each time it is called (tens of
microseconds); the till's basket and receipt name half a dozen addresses
after every tap, each the same as the time before.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

_ID = "7340021937152"
"""A stand-in id reversed once per URL name; each line's own id replaces it (no ``reverse()`` per row)."""


@lru_cache(maxsize=64)
def _reversed(name: str, with_id: bool, prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf, args=[_ID] if with_id else None)


def till_url(name: str, pk: int | None = None) -> str:
    """Return ``reverse(name)`` (or ``reverse(name, args=[pk])``), reversed once per name, not per request.

    Keyed by the script prefix and URL configuration of the request, which
    ``reverse()`` itself depends on (a test that swaps ``ROOT_URLCONF`` gets its own).
    """
    url = _reversed(name, pk is not None, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return url if pk is None else url.replace(_ID, str(int(pk)), 1)
