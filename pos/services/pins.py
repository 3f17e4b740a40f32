"""PIN sign-in for the till, rate-limited per member of staff and for the whole till.

A 4-digit PIN has only 10,000 values, so guessing must be slow: after
``AURSWIFT_PIN_MAX_FAILURES`` wrong PINs a member of staff is paused for
``AURSWIFT_PIN_LOCKOUT_SECONDS``; and three times that many failures across
all staff within the pause window pause the whole till, so guessing by
switching names does not help.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from pos.exceptions import PinLockedError, SignInError
from pos.models import StaffProfile

PIN_RE = re.compile(r"[0-9]{4,8}")  # use fullmatch: "$" would let a trailing newline through
TILL_FAILURES_KEY = "pos:till-pin-failures"


def set_pin(profile: StaffProfile, pin: str) -> None:
    """Store a new PIN (hashed) and clear any lock."""
    if not PIN_RE.fullmatch(pin or ""):
        raise SignInError("A PIN is 4 to 8 digits.")
    profile.pin_hash = make_password(pin)
    profile.failed_pin_attempts = 0
    profile.pin_locked_until = None
    profile.save(update_fields=["pin_hash", "failed_pin_attempts", "pin_locked_until"])


def _wait_message(until: datetime, now: datetime) -> str:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return f"Too many wrong PINs. Try again in {seconds} seconds."


_till_guard = threading.Lock()  # the till-wide list is read and written by many request threads


def _recent_failures(now: datetime) -> list[datetime]:
    window = timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
    return [t for t in cache.get(TILL_FAILURES_KEY, []) if now - t < window]


def _till_locked_until(failures: list[datetime]) -> datetime | None:
    limit = settings.AURSWIFT_PIN_MAX_FAILURES * 3
    if len(failures) >= limit:
        return failures[-limit] + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
    return None


def _count_till_guess(now: datetime) -> None:
    """Count a guess till-wide before it is checked (PinLockedError when the till is paused).

    Counting first, not after a wrong answer, is what bounds guesses sent in
    parallel: each one takes its place before any of them is checked.
    """
    with _till_guard:
        failures = _recent_failures(now)
        until = _till_locked_until(failures)
        if until and until > now:
            raise PinLockedError(_wait_message(until, now))
        cache.set(TILL_FAILURES_KEY, [*failures, now], timeout=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)


def _uncount_till_guess(now: datetime) -> None:
    with _till_guard:
        failures = cache.get(TILL_FAILURES_KEY, [])
        with contextlib.suppress(ValueError):
            failures.remove(now)
        cache.set(TILL_FAILURES_KEY, failures, timeout=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)


def _count_guess(profile: StaffProfile, now: datetime) -> int:
    """Count a guess for ``profile`` in the database before it is checked; return the guesses counted.

    One UPDATE counts it only while the member of staff is not paused and
    has guesses left, so parallel guesses cannot all pass a check made before
    any of them was counted. The last guess starts the pause in that same
    UPDATE: if its check never ends (the app is closed meanwhile), the pause
    still does.
    """
    limit = settings.AURSWIFT_PIN_MAX_FAILURES
    until = now + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
    mine = StaffProfile.objects.filter(pk=profile.pk)
    with transaction.atomic():
        # A pause that is over, or a count left at the limit without one (an older version), starts afresh.
        mine.filter(
            Q(pin_locked_until__lte=now) | Q(pin_locked_until__isnull=True, failed_pin_attempts__gte=limit)
        ).update(failed_pin_attempts=0, pin_locked_until=None)
        counted = mine.filter(pin_locked_until__isnull=True, failed_pin_attempts__lt=limit).update(
            failed_pin_attempts=F("failed_pin_attempts") + 1,
            pin_locked_until=Case(When(failed_pin_attempts__gte=limit - 1, then=Value(until)), default=None),
        )
        if not counted:  # paused, or the last guess is being checked right now
            paused = mine.values_list("pin_locked_until", flat=True).first() or until
            raise PinLockedError(_wait_message(paused, now))
        return mine.values_list("failed_pin_attempts", flat=True).get()


def _save_lock(profile: StaffProfile, attempts: int, until: datetime | None) -> None:
    StaffProfile.objects.filter(pk=profile.pk).update(failed_pin_attempts=attempts, pin_locked_until=until)
    profile.failed_pin_attempts, profile.pin_locked_until = attempts, until


def verify_pin(profile: StaffProfile, pin: str, now: datetime | None = None) -> None:
    """Accept the PIN or raise SignInError / PinLockedError with what to do next."""
    now = now or timezone.now()
    till_lock = _till_locked_until(_recent_failures(now))
    if till_lock and till_lock > now:
        raise PinLockedError(_wait_message(till_lock, now))
    if profile.pin_locked_until and profile.pin_locked_until > now:
        raise PinLockedError(_wait_message(profile.pin_locked_until, now))
    if not PIN_RE.fullmatch(pin or ""):
        # never right, so not counted as a guess: the keypad types digits only
        raise SignInError("A PIN is 4 to 8 digits.")
    _count_till_guess(now)
    try:
        attempts = _count_guess(profile, now)
    except PinLockedError:
        _uncount_till_guess(now)
        raise
    if profile.pin_hash and check_password(pin or "", profile.pin_hash):
        _uncount_till_guess(now)
        _save_lock(profile, 0, None)
        return
    left = settings.AURSWIFT_PIN_MAX_FAILURES - attempts
    if left <= 0:
        until = now + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
        _save_lock(profile, 0, until)
        raise PinLockedError(_wait_message(until, now))
    profile.failed_pin_attempts = attempts
    raise SignInError(f"Wrong PIN. {left} attempt{'s' if left != 1 else ''} left.")


def approve(profile_id: int | None, pin: str) -> StaffProfile:
    """Return the manager whose PIN was typed to approve a void or a refund, or raise SignInError.

    The PIN is checked, counted and locked exactly like a sign-in PIN, so the
    approval box is no faster a way to guess it.
    """
    profile = (
        StaffProfile.objects.select_related("user")
        .filter(pk=profile_id, role=StaffProfile.Role.MANAGER, user__is_active=True)
        .first()
        if profile_id
        else None
    )
    if profile is None:
        raise SignInError("Choose the manager who approves.")
    if not (pin or "").strip():
        raise SignInError("A manager types their PIN to approve.")
    verify_pin(profile, pin)
    return profile


def managers():
    """Return the managers who can approve, for the approval box."""
    return StaffProfile.objects.select_related("user").filter(role=StaffProfile.Role.MANAGER, user__is_active=True)
