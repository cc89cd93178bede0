"""Rate limits per client: one counter per client and time window, shared by every worker."""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import TYPE_CHECKING, cast

from django.conf import settings
from redis.commands.core import Script
from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.request import Request

from notes.redis_client import redis_client

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


# INCR, and EXPIRE on the window's first request, as one command: a script
# costs one round trip and one reply to parse, where a pipeline of the two
# commands builds and parses twice as much.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@functools.lru_cache
def count_script(url: str) -> Script:
    return redis_client(url).register_script(COUNT_SCRIPT)


def count_in_window(key: str, seconds: int) -> int:
    """This request's number in its window (EVALSHA; redis-py loads the script when needed)."""
    count: int = count_script(settings.REDIS_URL)(keys=[key], args=[seconds])
    return count


class WindowCounterMixin(throttling.SimpleRateThrottle):
    """Counts a client's requests per fixed window with one atomic command to Redis.

    DRF's own throttle keeps every request's timestamp in one cache entry and
    rewrites the whole list on each request, which at high rates grows to
    thousands of entries and dominates the cost of a request. A counter costs
    the same at any rate; the price is that a client may reach twice its rate
    across a window boundary. Without Redis, requests are served unthrottled
    rather than failing.
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
            count = count_in_window(f"notes:{key}:{window}", self.duration)
        except RedisError as exc:
            logger.warning("Rate limits not enforced, their store is unavailable: %s", exc)
            return True
        return count <= self.num_requests

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
