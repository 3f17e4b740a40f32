"""PIN sign-in for the till, rate-limited per member of staff and for the whole till.

A 4-digit PIN has only 10,000 values, so guessing must be slow: after
``AURSWIFT_PIN_MAX_FAILURES`` wrong PINs a member of staff is paused for
``AURSWIFT_PIN_LOCKOUT_SECONDS``; and three times that many failures across
all staff within the pause window pause the whole till, so guessing by
switching names does not help.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
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


def _till_locked_until() -> datetime | None:
    failures: list[datetime] = cache.get(TILL_FAILURES_KEY, [])
    limit = settings.AURSWIFT_PIN_MAX_FAILURES * 3
    if len(failures) >= limit:
        return failures[-limit] + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
    return None


def _note_till_failure(now: datetime) -> None:
    window = timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
    failures = [t for t in cache.get(TILL_FAILURES_KEY, []) if now - t < window] + [now]
    cache.set(TILL_FAILURES_KEY, failures, timeout=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)


def verify_pin(profile: StaffProfile, pin: str, now: datetime | None = None) -> None:
    """Accept the PIN or raise SignInError / PinLockedError with what to do next."""
    now = now or timezone.now()
    till_lock = _till_locked_until()
    if till_lock and till_lock > now:
        raise PinLockedError(_wait_message(till_lock, now))
    if profile.pin_locked_until and profile.pin_locked_until > now:
        raise PinLockedError(_wait_message(profile.pin_locked_until, now))
    if not PIN_RE.fullmatch(pin or ""):
        # never right, so not counted as a guess: the keypad types digits only
        raise SignInError("A PIN is 4 to 8 digits.")
    if profile.pin_hash and check_password(pin or "", profile.pin_hash):
        if profile.failed_pin_attempts or profile.pin_locked_until:
            profile.failed_pin_attempts, profile.pin_locked_until = 0, None
            profile.save(update_fields=["failed_pin_attempts", "pin_locked_until"])
        return
    _note_till_failure(now)
    profile.failed_pin_attempts += 1
    left = settings.AURSWIFT_PIN_MAX_FAILURES - profile.failed_pin_attempts
    if left <= 0:
        profile.failed_pin_attempts = 0
        profile.pin_locked_until = now + timedelta(seconds=settings.AURSWIFT_PIN_LOCKOUT_SECONDS)
        profile.save(update_fields=["failed_pin_attempts", "pin_locked_until"])
        raise PinLockedError(_wait_message(profile.pin_locked_until, now))
    profile.save(update_fields=["failed_pin_attempts"])
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
