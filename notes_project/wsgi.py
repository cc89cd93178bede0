"""WSGI entry point, served by gunicorn (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_project.settings")

django_application = get_wsgi_application()

# Need Django set up:
from notes.api.body_limit import ChunkedBodyLimit  # noqa: E402
from notes.api.browserless import BrowserlessSplit, browserless_handler  # noqa: E402

application = ChunkedBodyLimit(BrowserlessSplit(django_application, browserless_handler()))
