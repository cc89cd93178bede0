"""Rate-limit quota leased from Redis in slices, and spent in the worker process.

Redis holds one counter per client and fixed window: how much of the client's
limit N has been granted to any process, by any instance. A process asks for a
slice of S units at a time (one atomic script) and answers the client's next
requests from what it holds, going back to Redis only when its slice is spent
or the window turns. So a client at a high rate costs one round trip per S
requests per process instead of one per request.

The bound, per client and window, with P worker processes over all instances:

- Never more than N requests are allowed. The script grants only what is left
  of N, and a process allows a request only with a granted unit in hand.
- The first refusal comes after at least N - (P - 1) * (S - 1) allowed
  requests. A process refuses only when it holds nothing for the client, no
  thread of it is fetching a slice for the client, and Redis has nothing left
  to grant; at that moment each other process holds at most S - 1 unspent
  units (a slice minus the request that fetched it), and every other unit
  granted was spent on an allowed request.
- At the turn of a window a process drops what it held of the old one. A
  request whose thread read the clock just before another thread turned the
  window asks Redis for one unit of the old window, so at the boundary itself
  such a request may be refused after as few as N - P * (S - 1) allowed.

S = max(1, min(SLICE_CAP, N // SLICE_DIVISOR)): limits under 200 per window
get slices of 1, so every request is one round trip and counts are exact, as
before leasing; the undershoot stays below (P - 1) percent of N, and under
SLICE_CAP * (P - 1) requests whatever the limit.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from django.conf import settings
from redis.commands.core import Script

from notes.redis_client import redis_client

# A slice of a hundredth of the limit keeps the undershoot at a percent of the
# limit per extra process, where the twentieth once considered cost five; the
# cap bounds it in requests, and one round trip per 100 requests is already
# under a percent of their cost.
SLICE_DIVISOR = 100
SLICE_CAP = 100
# Clients a process holds slices for at once, per rate. Past it, new clients
# are counted one request per round trip, as before leasing: exact, and nothing
# to remember. Dropping a held slice instead would lose granted units and break
# the bound.
CAPACITY = 10_000

# Grants what is left of the limit, up to the slice asked for, and returns it.
# The counter never passes the limit, so it reads as what has been granted. Its
# expiry, set on the window's first grant, falls after the window's end.
LEASE_SCRIPT = """
local left = tonumber(ARGV[2]) - tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), left)
if grant <= 0 then return 0 end
if redis.call('INCRBY', KEYS[1], grant) == grant then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return grant
"""

# (Redis key, units asked for, limit, window in seconds) -> units granted.
Lease = Callable[[str, int, int, int], int]


@functools.lru_cache
def lease_script(url: str) -> Script:
    return redis_client(url).register_script(LEASE_SCRIPT)


def lease_from_redis(key: str, ask: int, limit: int, seconds: int) -> int:
    """Units granted of `ask` (EVALSHA; redis-py loads the script when needed)."""
    granted: int = lease_script(settings.REDIS_URL)(keys=[key], args=[ask, limit, seconds])
    return granted


def slice_for(limit: int) -> int:
    return max(1, min(SLICE_CAP, limit // SLICE_DIVISOR))


class LeaseStore:
    """One process's slices of every client's quota for one rate (N per window).

    Thread-safe: gunicorn's gthread workers answer requests on several threads.
    The Redis call is made outside the lock, so other clients' requests are
    not held up by it; a thread that finds its client's slice being fetched by
    another waits for that fetch instead of fetching a second slice, which
    would let the process hold more than S - 1 units.
    """

    def __init__(
        self, limit: int, seconds: int, lease: Lease = lease_from_redis, capacity: int = CAPACITY
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.slice = slice_for(limit)
        self.lease = lease
        self.capacity = capacity
        self.window = -1
        # Units granted and not spent yet, per client; spent slices are removed.
        self.held: dict[str, int] = {}
        # Clients one of whose threads is fetching a slice.
        self.fetching: set[str] = set()
        self.changed = threading.Condition()

    def allow(self, key: str, window: int) -> bool:
        """Whether the client `key` may make one more request in `window` (RedisError passes)."""
        with self.changed:
            if window > self.window:
                self.turn(window)
            if self.spend_held(key, window):
                return True
            ask = self.slice_to_ask(key, window)
        try:
            granted = self.lease(f"notes:{key}:{window}", ask, self.limit, self.seconds)
        except BaseException:
            self.keep(key, window, 0)
            raise
        return self.keep(key, window, granted)

    def turn(self, window: int) -> None:
        # What is held is for a past window: Redis has moved on to new counters.
        self.window = window
        self.held.clear()
        self.fetching.clear()
        self.changed.notify_all()

    def spend_held(self, key: str, window: int) -> bool:
        """Spend a held unit, after any fetch of the client's slice under way (lock held)."""
        while window == self.window:
            held = self.held.get(key, 0)
            if held:
                if held == 1:
                    del self.held[key]
                else:
                    self.held[key] = held - 1
                return True
            if key not in self.fetching:
                return False
            self.changed.wait()
        return False

    def slice_to_ask(self, key: str, window: int) -> int:
        """How much to ask Redis for; registers this thread as the client's fetch (lock held).

        With room to hold a slice, a whole slice; else one unit, still
        registered, so that a slice fetched meanwhile by another thread cannot
        leave the process holding units while this request is refused.
        """
        if self.slice == 1 or window != self.window:
            return 1
        room = len(self.held) + len(self.fetching) < self.capacity
        self.fetching.add(key)
        return self.slice if room else 1

    def keep(self, key: str, window: int, granted: int) -> bool:
        """Hold what was granted beyond this request's unit; whether the request is allowed."""
        if self.slice == 1:
            return granted > 0
        with self.changed:
            # A fetch for a window that has turned since is no longer registered.
            if window == self.window:
                self.fetching.discard(key)
                if granted > 1:
                    self.held[key] = granted - 1
                self.changed.notify_all()
        return granted > 0


STORES: dict[tuple[int, int], LeaseStore] = {}
STORES_LOCK = threading.Lock()


def store_for(limit: int, seconds: int) -> LeaseStore:
    """The process's one store for a rate: one per rate configured, so two in practice."""
    store = STORES.get((limit, seconds))
    if store is None:
        with STORES_LOCK:
            store = STORES.setdefault((limit, seconds), LeaseStore(limit, seconds))
    return store


def forget_leases() -> None:
    """Drop every held slice (for tests, whose Redis database is emptied between them)."""
    with STORES_LOCK:
        STORES.clear()
