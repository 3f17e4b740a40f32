"""WSGI entry point used by waitress inside the launcher."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
application = get_wsgi_application()
