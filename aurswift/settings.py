"""Django settings for AurSwift.

Adjustable values come from the environment or an optional ``.env`` in the
data directory (django-environ), each with an explicit default. Internal
settings follow below them and are not meant to be changed per shop.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from aurswift import __version__
from aurswift.paths import (
    SOURCE_ROOT,
    data_dir,
    default_db_path,
    ensure_layout,
    ensure_secret_key,
    logs_dir,
    writable,
)

BASE_DIR: Path = SOURCE_ROOT
DATA_DIR: Path = data_dir()
with contextlib.suppress(OSError):  # a read-only data dir is refused with a clear message later, not here
    ensure_layout(DATA_DIR)

env = environ.Env()
_env_file = DATA_DIR / ".env"
if _env_file.exists():
    env.read_env(str(_env_file))

# --- Adjustable -------------------------------------------------------------
DEBUG: bool = env.bool("AURSWIFT_DEBUG", default=False)
SECRET_KEY: str = env.str("AURSWIFT_SECRET_KEY", default="") or ensure_secret_key(DATA_DIR)
# The default database is given as a path, never pasted into a URL: '#', '?' and '%' are legal in
# folder names. A DATABASE_URL must percent-encode them (sqlite:////till%20%231/pos_system.db).
_database_url: str = env.str("DATABASE_URL", default="")
if _database_url and not _database_url.startswith("sqlite:"):
    raise ImproperlyConfigured(
        "DATABASE_URL must name an SQLite file (sqlite:////path/to/pos_system.db): "
        "this version of AurSwift keeps its data in SQLite only"
    )
DATABASES = {
    "default": env.db("DATABASE_URL")
    if _database_url
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_db_path(DATA_DIR))}
}
TIME_ZONE: str = env.str("AURSWIFT_TIME_ZONE", default="Europe/London")
LANGUAGE_CODE: str = env.str("AURSWIFT_LANGUAGE", default="en-gb")
# Guarded upgrade and backups (docs/design.md section 4).
AURSWIFT_BACKUP_RETENTION: int = env.int("AURSWIFT_BACKUP_RETENTION", default=10)
AURSWIFT_STARTUP_ATTEMPTS: int = env.int("AURSWIFT_STARTUP_ATTEMPTS", default=3)
# Till sign-in: failed PINs before a pause, and how long the pause lasts.
AURSWIFT_PIN_MAX_FAILURES: int = env.int("AURSWIFT_PIN_MAX_FAILURES", default=5)
AURSWIFT_PIN_LOCKOUT_SECONDS: int = env.int("AURSWIFT_PIN_LOCKOUT_SECONDS", default=60)
# Software updates (docs/design.md section 5).
AURSWIFT_UPDATE_URL: str = env.str("AURSWIFT_UPDATE_URL", default="")
# The root metadata the update client trusts (default: the one shipped in the app).
AURSWIFT_UPDATE_TRUSTED_ROOT: str = env.str("AURSWIFT_UPDATE_TRUSTED_ROOT", default="")
AURSWIFT_UPDATE_CHECK_HOURS: float = env.float("AURSWIFT_UPDATE_CHECK_HOURS", default=4.0)
# What must be finished before an update installs (each returns True while it blocks): an open sale.
AURSWIFT_UPDATE_BLOCKERS: list[str] = ["pos.services.orders.has_open_sale"]
# Download only the files that changed, where the repository publishes a manifest (off: always the archive).
AURSWIFT_UPDATE_DELTA: bool = env.bool("AURSWIFT_UPDATE_DELTA", default=True)
# The per-launch secret the launcher hands to the server (empty: no launcher).
AURSWIFT_LAUNCH_SECRET: str = env.str("AURSWIFT_LAUNCH_SECRET", default="")

# --- Internal ---------------------------------------------------------------
AURSWIFT_VERSION: str = __version__
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL keeps the till responsive while a backup reads; a busy timeout turns
    # short lock waits into waits instead of errors; IMMEDIATE transactions
    # take the write lock up front so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 10,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    )
    # Each server thread keeps its connection between requests: a new one costs milliseconds, and
    # closing the last one checkpoints and deletes the log (an fsync) after every request.
    # maintenance.middleware drops a kept connection whose file was replaced (a restore) or changed.
    # Windows cannot replace a file that is open, so there each request still closes its own.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 0 if os.name == "nt" else None)

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pos",
    "maintenance",
    # Extra apps and migration modules: for tests and benchmarks that need
    # throw-away migration chains (never set in a shop).
    *env.list("AURSWIFT_EXTRA_APPS", default=[]),
]
MIGRATION_MODULES = {k: (v or None) for k, v in env.dict("AURSWIFT_MIGRATION_MODULES", default={}).items()}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "aurswift.security.LaunchSecretMiddleware",
    "aurswift.startup.middleware.StartupGateMiddleware",
    "maintenance.middleware.SwapGateMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "aurswift.urls"
WSGI_APPLICATION = "aurswift.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "maintenance.context_processors.update_banner",
            ],
        },
    },
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = None  # served from the app folders by WhiteNoise; no collectstatic
# Serve straight from the app folders: no collectstatic step, no CDN.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "pos:signin"
# Signed-cookie sessions: the start-up and recovery pages must work while the
# database is missing, being upgraded, or damaged.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_NAME = "aurswift_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

_LOG_FILE = logs_dir(DATA_DIR) / "aurswift.log"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(_LOG_FILE),
            "maxBytes": 2_000_000,
            "backupCount": 5,
            "formatter": "plain",
            "encoding": "utf-8",
        }
        if writable(_LOG_FILE)
        # A read-only data dir must not stop a command from saying so (in its own words, no traceback).
        else {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["file"], "level": "INFO"},
}
