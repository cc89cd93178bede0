"""API requests that bring no browser state skip the middleware only browsers need.

A request to the notes or the health probes with no cookie (so no session, no
CSRF cookie, no messages) that asks for JSON rather than the browsable API's
page has nothing for sessions, CSRF, the login lock, messages or a page's
Content-Security-Policy to read or answer: settings.BROWSER_MIDDLEWARE. It is served by a second
Django handler built with settings.BROWSERLESS_MIDDLEWARE, which keeps request
ids, metrics, CORS, the security headers (X-Frame-Options included), the body
limit and the rest, so such a request saves the work of seven middleware
(docs/performance.md). Every other request
(the admin, logins, the browsable API, anything with a cookie) takes the full
chain. Views protect themselves either way: DRF checks CSRF for session
authentication, and Django's login view is csrf_protect'ed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

StartResponse = Callable[..., Any]


def is_browserless(environ: dict[str, Any]) -> bool:
    """Whether the request is an API client's: a notes or health path, no cookie, no HTML."""
    return (
        environ.get("PATH_INFO", "").startswith(settings.BROWSERLESS_PATHS)
        and "HTTP_COOKIE" not in environ
        and "text/html" not in environ.get("HTTP_ACCEPT", "")
        # ?format=api asks DRF for the browsable API whatever Accept says.
        and "format=" not in environ.get("QUERY_STRING", "")
    )


def browserless_handler() -> WSGIHandler:
    # Django's handler reads its chain from settings.MIDDLEWARE while it is built,
    # and only then: override_settings is the documented way to hand it another.
    with override_settings(MIDDLEWARE=settings.BROWSERLESS_MIDDLEWARE):
        return WSGIHandler()


class BrowserlessSplit:
    """A WSGI application that sends browserless requests to the short chain."""

    def __init__(self, full: WSGIHandler, browserless: WSGIHandler) -> None:
        self.full = full
        self.browserless = browserless

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler = self.browserless if is_browserless(environ) else self.full
        return handler(environ, start_response)
