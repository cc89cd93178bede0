"""Password logins (the admin's, the browsable API's): failures logged and counted, one lock answer.

django-axes keeps the count and the lock (settings: PASSWORD LOGINS). This
module adds what the service says about them: a log line and a counter for
each failed login and each lock refusal, and the page a locked login gets.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

from notes_project.metrics import LOGIN_FAILURES, LOGIN_LOCKOUTS, route_label

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The lock's answer (AXES_LOCKOUT_CALLABLE): the same bytes for every username and address.

    No username in it, so it says nothing about whether the account exists.
    Retry-After is the whole lock time, an upper bound: the lock ends that long
    after the failure that set it.
    """
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    page = render_to_string("notes/login_locked.html", {"minutes": lock_minutes()})
    response = HttpResponse(page, status=429)
    response["Retry-After"] = str(seconds)
    return response


def refused_response(retry_after: int) -> HttpResponse:
    """A login refused before its password was checked: the same bytes for every username."""
    page = render_to_string("notes/login_throttled.html")
    response = HttpResponse(page, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def username_digest(username: str | None) -> str:
    """A short keyed hash of a login's username, for logs and Redis keys: never the name itself.

    A password typed into the username field must not end up readable in the
    logs. Keyed with SECRET_KEY, so a short name cannot be found by hashing
    every candidate without the key; an operator finds a user's digest with
    `username_digest('alice')` in `manage.py shell` (docs/logins-and-tokens.md).
    """
    if username is None:
        return "-"
    return salted_hmac("notes.logins.username", username).hexdigest()[:12]


def count_failure(
    sender: Any, credentials: Mapping[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Django's user_login_failed: a wrong username or password, or a login refused by a lock.

    Django has already masked the password in `credentials`; only the username
    is read from them, as axes reads it.
    """
    route = _route(request)
    LOGIN_FAILURES.labels(route).inc()
    username = get_client_username(request, dict(credentials)) if request else None
    # Set by axes (through AXES_CLIENT_IP_CALLABLE) before any receiver runs.
    address = getattr(request, "axes_ip_address", None)
    logger.warning(
        "Password login failed for username %s from %s on %s",
        username_digest(username),
        address,
        route,
    )


def count_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """axes' user_locked_out: the failure that reached the limit, and every attempt while locked."""
    route = _route(request)
    LOGIN_LOCKOUTS.labels(route).inc()
    logger.warning(
        "Password login refused: username %s from %s is locked for up to %d minutes",
        username_digest(username),
        ip_address,
        lock_minutes(),
    )


def lock_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def _route(request: HttpRequest | None) -> str:
    """The login page's route, as the request metrics name it (admin/login/, api-auth/login/)."""
    match = getattr(request, "resolver_match", None)
    return "other" if match is None else route_label(match.route)
