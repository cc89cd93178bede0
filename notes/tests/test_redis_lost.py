"""Contract, Losing the primary: when Redis is lost or pauses, nothing goes wrong, only slower.

A gunicorn of the service as `make run` serves it, on a Redis of the test's own,
under keyed writes and reads with a token: Redis pauses (SIGSTOP), then is lost
(killed, forgetting what it held), then comes back empty. What each thing Redis
holds does meanwhile is in docs/reliability.md ("When Redis is lost or pauses"); with a
replica, the read-your-writes pins are tested on the cluster (test_cluster.py).
"""

import pytest
import requests

from conftest import gunicorn, live_database_url
from harness.ledger import Ledger, check
from harness.load import KeyedWrites, Reads
from notes.tests.redis_server import RedisServer

ANON_LIMIT = 3  # a day: small enough that every anonymous request asks Redis
PHASE = 3  # answers every client has in each phase, whatever the machine's speed
ANSWERED = {200, 201}


@pytest.fixture
def store():
    with RedisServer() as server:
        yield server


@pytest.fixture
def served(store, transactional_db, tmp_path):
    env = {"REDIS_URL": store.url, "WEB_CONCURRENCY": "2"}
    with gunicorn(tmp_path, NOTES_THROTTLE_ANON=f"{ANON_LIMIT}/day", **env) as served:
        yield served


def anonymous_reads(url, count):
    return [requests.get(f"{url}/api/notes/", timeout=10).status_code for _ in range(count)]


def go_on(*loads):
    for load in loads:
        assert load.wait_for(PHASE, ANSWERED), f"{type(load).__name__} stopped being answered"


def test_with_redis_paused_then_lost_writes_and_reads_go_on_and_limits_come_back(
    store, served, token, note
):
    url, _, log = served
    auth = {"Authorization": f"Token {token.key}"}
    writes = KeyedWrites(url, auth, [note.pk], count=3)
    reads = Reads(url, auth, ["/api/notes/?page_size=5", f"/api/notes/{note.pk}/"], count=3)

    with writes, reads:
        store.pause()
        go_on(writes, reads)
        assert anonymous_reads(url, 1) == [200]
        store.resume()
        store.stop()
        go_on(writes, reads)
        # Rate limits fail open while their store is gone (the contract says so).
        assert anonymous_reads(url, 2 * ANON_LIMIT) == [200] * (2 * ANON_LIMIT)
        store.start()
        go_on(writes, reads)
        writes.stop()
        reads.stop()

    assert writes.failures(ok=ANSWERED) == []
    assert reads.failures(ok={200}) == []
    assert writes.given_up == []
    result = check(live_database_url(), Ledger.of(writes.acknowledged), "keyed %")
    assert result.clean, result
    assert "Rate limits not enforced, their store is unavailable" in log.read_text()
    # Back, empty, and counting again: by itself, with no restart of the service.
    assert anonymous_reads(url, ANON_LIMIT + 1) == [200] * ANON_LIMIT + [429]
