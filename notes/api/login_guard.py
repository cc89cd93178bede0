"""Password logins limited before any password is checked (the contract, Who may do what).

django-axes checks its lock, then the password, then records the failure: a
burst of guesses that all start before the lock's last failure is recorded
would all be checked. So, before the login view runs:

- every attempt from an address counts against the spray limit
  (LoginRateThrottle, the rate limits' Redis counters), whatever the username;
- one username from one address has one password check under way at a time:
  a Redis lock taken before the view and released after it, once axes has
  recorded the failure. A second attempt meanwhile is refused at once, so axes
  always counts every earlier check and no more than its limit are made.

Both refusals are 429 with Retry-After and name no username. Without Redis
both are skipped (logged), as the rate limits are, and axes' lock still holds.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from redis.exceptions import LockError, RedisError
from redis.lock import Lock
from rest_framework.request import Request

from notes.api.throttling import LoginRateThrottle, client_address
from notes.logins import refused_response, username_digest
from notes.redis_client import redis_client

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger("notes.logins")

# The longest a password check may hold its lock: far above a check's time
# (a PBKDF2 hash and a few queries under DATABASE_STATEMENT_TIMEOUT), and the
# time a lock left by a killed worker blocks its username and address.
CHECK_SECONDS = 30
# What a refused concurrent attempt is told to wait: the check under way is short.
BUSY_RETRY_AFTER = 1


@functools.cache
def login_paths() -> frozenset[str]:
    """The pages that check a password: the admin's login and the browsable API's."""
    return frozenset((reverse("admin:login"), reverse("rest_framework:login")))


class PasswordLoginGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path_info not in login_paths():
            return self.get_response(request)
        throttle = LoginRateThrottle()
        if not spray_allowed(throttle, request):
            refused(request, "too many logins from this address")
            return refused_response(throttle.duration)
        with one_check_at_a_time(request) as mine:
            if not mine:
                refused(request, "a check for this username from this address is under way")
                return refused_response(BUSY_RETRY_AFTER)
            return self.get_response(request)


def spray_allowed(throttle: LoginRateThrottle, request: HttpRequest) -> bool:
    # The throttle reads only headers and the address, which a plain HttpRequest has.
    return throttle.allow_request(cast(Request, request), cast("APIView", None))


@contextmanager
def one_check_at_a_time(request: HttpRequest) -> Iterator[bool]:
    """Whether this attempt holds its username and address's check (True without Redis)."""
    username = username_digest(request.POST.get("username"))
    key = f"notes:login-check:{client_address(request)}:{username}"
    lock = redis_client(settings.REDIS_URL).lock(key, timeout=CHECK_SECONDS, blocking=False)
    try:
        mine = lock.acquire()
    except RedisError as exc:
        logger.warning("Password logins not held to one check at a time, Redis fails: %s", exc)
        yield True
        return
    try:
        yield mine
    finally:
        if mine:
            release(lock)


def release(lock: Lock) -> None:
    try:
        lock.release()
    except (LockError, RedisError) as exc:
        # Expired (a check over CHECK_SECONDS) or Redis gone: the key expires by itself.
        logger.warning("Password login check's lock not released: %s", exc)


def refused(request: HttpRequest, reason: str) -> None:
    logger.warning(
        "Password login refused before any check: username %s from %s, %s",
        username_digest(request.POST.get("username")),
        client_address(request),
        reason,
    )
