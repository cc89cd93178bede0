"""WSGI entry point, served by gunicorn (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_project.settings")

django_application = get_wsgi_application()

from notes.api.body_limit import ChunkedBodyLimit  # noqa: E402 (needs Django set up)

application = ChunkedBodyLimit(django_application)
