"""A real third-party app with a long migration history (django-allauth), for the upgrade tests."""
