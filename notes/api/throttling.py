"""Rate limits per client: one quota per client and time window, shared by every worker."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, cast

from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.request import Request

from notes.api.leases import store_for

if TYPE_CHECKING:
    # DRF views import the throttles named in settings: no import at run time.
    from django.http import HttpRequest
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str | None:
    """The client's address by the rate limits' rule: the login lock's AXES_CLIENT_IP_CALLABLE.

    DRF's own rule, as the anonymous throttle applies it: X-Forwarded-For counts
    only through NUM_PROXIES trusted proxies, so a client cannot invent an
    address. It reads only headers and REMOTE_ADDR, which a plain HttpRequest
    has too. The lock stores the address in an `inet` column; should the chosen
    entry be no address at all (a client that reached the service past its
    proxy), the connecting address stands in rather than the login failing.
    """
    ident = throttling.BaseThrottle().get_ident(cast(Request, request))
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


class WindowCounterMixin(throttling.SimpleRateThrottle):
    """Counts a client's requests per fixed window against a quota leased from Redis.

    DRF's own throttle keeps every request's timestamp in one cache entry and
    rewrites the whole list on each request, which at high rates grows to
    thousands of entries and dominates the cost of a request. A counter costs
    the same at any rate; the price is that a client may reach twice its rate
    across a window boundary. The counter is spent in slices held by each
    process (notes/api/leases.py), so a client at a high rate costs a round
    trip per slice rather than per request. Without Redis, requests are served
    unthrottled rather than failing.
    """

    # Set by SimpleRateThrottle.__init__ from the rate, and by allow_request.
    num_requests: int
    duration: int
    now: float
    window_ends: float

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        try:
            return store_for(self.num_requests, self.duration).allow(key, window)
        except RedisError as exc:
            logger.warning("Rate limits not enforced, their store is unavailable: %s", exc)
            return True

    def wait(self) -> float:
        return self.window_ends - self.now


class AnonRateThrottle(WindowCounterMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(WindowCounterMixin, throttling.UserRateThrottle):
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        # DRF counts anonymous clients here too, by address; the anonymous rate
        # already limits them, so that would only cost a second round trip.
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class LoginRateThrottle(WindowCounterMixin, throttling.AnonRateThrottle):
    """Password logins per client address across all usernames: the spray limit.

    Counted for every login attempt, signed in or not, before its password is
    checked (notes/api/login_guard.py); the address is the login lock's.
    """

    scope = "login"

    def get_cache_key(self, request: Request, view: APIView | None) -> str | None:
        address = client_address(request)
        return self.cache_format % {"scope": self.scope, "ident": address}
