"""WSGI entry point, served by gunicorn (see gunicorn.conf.py).

One Django handler, running settings.MIDDLEWARE for every request, inside
ChunkedBodyLimit (notes/api/body_limit.py), which must wrap it from outside.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_project.settings")

django_application = get_wsgi_application()

# Needs Django set up:
from notes.api.body_limit import ChunkedBodyLimit  # noqa: E402

application = ChunkedBodyLimit(django_application)
