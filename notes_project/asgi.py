"""ASGI entry point, for servers that speak ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_project.settings")

django_application = get_asgi_application()

from notes.api.body_limit import AsgiBodyLimit  # noqa: E402 (needs Django set up)

# Chunked bodies are bounded here as in wsgi.py: Django would read them whole.
application = AsgiBodyLimit(django_application)  # type: ignore[arg-type]
