"""The middleware only browsers need, each run only for a request that may come from one.

Sessions, CSRF, authentication by session, messages, the login guard and the
pages' Content-Security-Policy serve the admin, the logins and the browsable
API. A request to the notes or the health probes that carries no cookie (so no
session, no CSRF cookie, no messages) and asks for no HTML page has nothing for
them to read or answer: an API client's. They would still cost it 4 to 8% of
its instructions (docs/performance.md), so each class below is the framework's
own middleware, in its own place in settings.MIDDLEWARE, that hands an API
client's request straight on to the next one; every other request (the admin,
logins, the browsable API, anything with a cookie) runs it in full. Subclasses,
not one wrapper around them all: Django's admin checks for these classes in
MIDDLEWARE, and each keeps its place in the chain. (axes' middleware is left as
it is: its check looks for its exact path.) Views protect themselves either
way: DRF checks CSRF for session authentication, and Django's login view is
csrf_protect'ed.
"""

from __future__ import annotations

from typing import Any

import csp.middleware
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as django_messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseForbidden
from django.middleware import csrf

from notes.api import login_guard

ANSWER = "notes_from_api_client"  # the request's attribute that keeps from_api_client's answer


def from_api_client(request: HttpRequest) -> bool:
    """A notes or health path, no cookie, no HTML asked for: nothing of a browser's to serve.

    Asked by each middleware below (seven times a request): answered once, kept on the
    request. Each asks it inline, not through a call: a frame per middleware is most of
    what passing a request on costs.
    """
    answer: bool | None = getattr(request, ANSWER, None)
    if answer is None:
        answer = sees_api_client(request)
        setattr(request, ANSWER, answer)
    return answer


def sees_api_client(request: HttpRequest) -> bool:
    meta = request.META
    return (
        request.path_info.startswith(settings.API_CLIENT_PATHS)
        # Django's test client sends an empty Cookie header when it holds none.
        and not meta.get("HTTP_COOKIE")
        and "text/html" not in meta.get("HTTP_ACCEPT", "")
        # ?format=api asks DRF for the browsable API whatever Accept says.
        and "format=" not in meta.get("QUERY_STRING", "")
    )


class BrowserOnly:
    """Mixed in before a middleware class: an API client's request skips it."""

    get_response: Any  # the middleware's own, set by its __init__

    def __call__(self, request: HttpRequest) -> Any:
        answer = getattr(request, ANSWER, None)  # from_api_client, inline
        if answer is None:
            answer = from_api_client(request)
        if answer:
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class CSPMiddleware(BrowserOnly, csp.middleware.CSPMiddleware):
    """django-csp's Content-Security-Policy: a JSON answer runs no script."""


class SessionMiddleware(BrowserOnly, sessions.SessionMiddleware):
    pass


class CsrfViewMiddleware(BrowserOnly, csrf.CsrfViewMiddleware):
    def process_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseForbidden | None:
        # Django's handler calls this itself, for every request.
        if from_api_client(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(BrowserOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(BrowserOnly, django_messages.MessageMiddleware):
    pass


class PasswordLoginGuardMiddleware(BrowserOnly, login_guard.PasswordLoginGuardMiddleware):
    pass
