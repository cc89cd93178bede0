"""Contract, Who may do what: rate limits, with each worker spending leased slices of a quota.

The bound (notes/api/leases.py, docs/behaviour.md): per client and window, at
most N requests are allowed across every process, and the first refusal comes
after at least N - (P - 1) * (S - 1) of them, S being the slice.
"""

import random
import threading
import time

import pytest
from redis.exceptions import RedisError

from conftest import TEST_REDIS_URL
from notes.api.leases import SLICE_CAP, LeaseStore, lease_from_redis, slice_for, store_for
from notes.api.throttling import WindowCounterMixin
from notes.redis_client import redis_client

pytestmark = pytest.mark.django_db

MINUTE = 60
# The start of a minute, so the fixed windows' edges are known.
START = 1_800_000_000.0


class Clock:
    """The throttles' timer, set by the test (DRF reads it through `timer`)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(START)
    monkeypatch.setattr(WindowCounterMixin, "timer", clock)
    return clock


@pytest.fixture
def rates(monkeypatch):
    def set_rates(anon, user="100000/minute"):
        monkeypatch.setattr(
            "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES",
            {"anon": anon, "user": user},
        )

    return set_rates


class CountingLease:
    """The real lease from Redis, recording each call's key and units asked for."""

    def __init__(self, pause=0.0):
        self.calls = []
        self.pause = pause
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def __call__(self, key, ask, limit, seconds):
        with self.lock:
            self.calls.append((key, ask))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.pause)  # widens the window in which threads could overlap
            return lease_from_redis(key, ask, limit, seconds)
        finally:
            with self.lock:
                self.in_flight -= 1


def granted_in_redis(key, window):
    value = redis_client(TEST_REDIS_URL).get(f"notes:{key}:{window}")
    return int(value or 0)


def test_slices_are_a_hundredth_of_the_limit_and_one_under_200():
    assert [slice_for(n) for n in (1, 3, 30, 100, 199)] == [1, 1, 1, 1, 1]
    assert [slice_for(n) for n in (200, 1000, 5000)] == [2, 10, 50]
    assert slice_for(100_000_000) == SLICE_CAP == 100


def test_a_client_under_a_high_limit_costs_one_round_trip_per_slice(api_client, rates, clock):
    rates("1000/minute")
    store = store_for(1000, MINUTE)
    store.lease = counting = CountingLease()

    statuses = {api_client.get("/api/notes/").status_code for _ in range(100)}

    assert statuses == {200}
    assert len(counting.calls) == 100 // slice_for(1000) == 10
    assert granted_in_redis("throttle_anon_127.0.0.1", int(START) // MINUTE) == 100


def test_small_limits_still_cost_one_round_trip_a_request_and_count_exactly(
    api_client, rates, clock
):
    rates("3/minute")
    store = store_for(3, MINUTE)
    store.lease = counting = CountingLease()

    statuses = [api_client.get("/api/notes/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert [ask for _, ask in counting.calls] == [1, 1, 1, 1]
    assert store.held == {}


def test_retry_after_is_the_time_left_in_the_window(api_client, rates, clock):
    rates("3/minute")
    clock.now = START + 15

    statuses = [api_client.get("/api/notes/").status_code for _ in range(4)]
    limited = api_client.get("/api/notes/")
    clock.now = START + MINUTE

    assert statuses == [200, 200, 200, 429]
    assert limited["Retry-After"] == "45"
    assert api_client.get("/api/notes/").status_code == 200


def test_the_window_turning_drops_the_leases_of_the_past_window(api_client, rates, clock):
    rates("1000/minute")
    store = store_for(1000, MINUTE)
    for i in range(5):
        api_client.get("/api/notes/", REMOTE_ADDR=f"10.0.0.{i}")
    held_before = dict(store.held)

    clock.now = START + MINUTE
    api_client.get("/api/notes/", REMOTE_ADDR="10.0.0.9")

    assert held_before == {f"throttle_anon_10.0.0.{i}": 9 for i in range(5)}
    assert store.held == {"throttle_anon_10.0.0.9": 9}
    assert store.window == int(START) // MINUTE + 1


def test_across_processes_no_more_than_the_limit_is_ever_allowed_and_refusals_wait_for_the_bound():
    limit, processes = 1000, 4
    stores = [LeaseStore(limit, MINUTE) for _ in range(processes)]
    undershoot = (processes - 1) * (slice_for(limit) - 1)
    # The worst case: every other process holds a slice it has spent one unit of,
    # and the client's requests all reach the first process from then on.
    first = [store.allow("client", 1) for store in stores]
    on_first = [stores[0].allow("client", 1) for _ in range(limit)]
    rest = [store.allow("client", 1) for store in stores[1:] for _ in range(limit)]

    assert all(first)
    assert on_first.index(False) + processes == limit - undershoot
    assert sum(first) + sum(on_first) + sum(rest) == limit
    assert granted_in_redis("client", 1) == limit


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_requests_spread_at_random_are_refused_only_past_the_bound(seed):
    limit, processes = 1000, 4
    stores = [LeaseStore(limit, MINUTE) for _ in range(processes)]
    pick = random.Random(seed)

    answers = [pick.choice(stores).allow("client", 1) for _ in range(2 * limit)]

    assert answers.index(False) >= limit - (processes - 1) * (slice_for(limit) - 1)
    assert sum(answers) <= limit
    assert sum(answers) + sum(store.held.get("client", 0) for store in stores) == limit


def test_threads_of_several_processes_share_the_limit_and_fetch_one_slice_at_a_time():
    limit, processes, threads = 1000, 3, 3
    leases = [CountingLease(pause=0.001) for _ in range(processes)]
    stores = [LeaseStore(limit, MINUTE, lease) for lease in leases]
    allowed = []

    def client(store):
        allowed.append(sum(store.allow("client", 1) for _ in range(limit // 2)))

    workers = [threading.Thread(target=client, args=(s,)) for s in stores for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Every thread asked until refused, so every granted unit was spent.
    assert sum(allowed) == limit == granted_in_redis("client", 1)
    assert all(store.held == {} and store.fetching == set() for store in stores)
    assert [lease.most_in_flight for lease in leases] == [1] * processes


def test_past_its_capacity_a_process_counts_new_clients_one_request_at_a_time():
    store = LeaseStore(1000, MINUTE, capacity=2)

    answers = [store.allow(client, 1) for client in ("a", "b", "c", "c")]

    assert answers == [True] * 4
    assert store.held == {"a": 9, "b": 9}
    assert granted_in_redis("c", 1) == 2


def test_a_failed_fetch_leaves_the_client_free_to_fetch_again(settings):
    store = LeaseStore(1000, MINUTE)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens here
    with pytest.raises(RedisError):
        store.allow("client", 1)
    settings.REDIS_URL = TEST_REDIS_URL

    assert store.fetching == set()
    assert store.allow("client", 1)
    assert store.held == {"client": 9}
