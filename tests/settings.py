"""Settings for pytest: a throw-away data directory and a fast password hasher."""

import os
import tempfile

os.environ.setdefault("AURSWIFT_DATA_DIR", tempfile.mkdtemp(prefix="aurswift-pytest-"))
# Playwright's sync API keeps an event loop on the main thread; Django's ORM then
# refuses to run there unless told that this (test-only) mix is intended.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from aurswift.settings import *  # noqa: F403

# PBKDF2's million rounds are right for a shop, too slow for hundreds of test sign-ins.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
