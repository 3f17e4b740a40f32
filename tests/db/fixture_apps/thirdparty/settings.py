"""AurSwift's settings plus django-allauth (which needs its middleware and the sites framework)."""

from aurswift.settings import *  # noqa: F403
from aurswift.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.usersessions",
]
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
SITE_ID = 1
