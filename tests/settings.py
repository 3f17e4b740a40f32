"""Settings for pytest: a throw-away data directory and a fast password hasher."""

import os
import tempfile

os.environ.setdefault("AURSWIFT_DATA_DIR", tempfile.mkdtemp(prefix="aurswift-pytest-"))

from aurswift.settings import *  # noqa: E402,F403

# PBKDF2's million rounds are right for a shop, too slow for hundreds of test sign-ins.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
