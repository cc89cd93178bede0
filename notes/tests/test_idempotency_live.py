"""Contract, Retries are safe, under fire: lost answers, racing retries and killed workers."""

import os
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from conftest import gunicorn, live_database_url
from harness.ledger import Ledger, check
from harness.load import KEYED, KeyedWrites
from harness.server import children_of
from harness.wait import until
from notes.idempotency.models import IdempotencyKey
from notes.models import Note
from notes.tests.tcp_proxy import TcpProxy

WORKERS = 3  # live_server_process's (conftest)

WRITES = KEYED


@pytest.fixture
def auth(token, transactional_db):
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture
def lossy_proxy(gunicorn_url):
    """The shared server behind a proxy that can lose its answers."""
    target = urlsplit(gunicorn_url)
    proxy = TcpProxy(target.hostname, target.port)
    proxy.start()
    yield proxy, f"http://127.0.0.1:{proxy.port}"
    proxy.stop()


@pytest.mark.parametrize("kind", WRITES)
def test_an_answer_lost_after_the_commit_is_recovered_by_retrying_with_the_key(
    lossy_proxy, auth, note, kind
):
    proxy, url = lossy_proxy
    path, body = WRITES[kind]("lost-answer", note.pk)
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    proxy.lose_responses(1)

    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}{path}", json=body, headers=headers, timeout=10)
    written = list(Note.objects.values_list("id", "content", "times_sent"))
    retry = requests.post(f"{url}{path}", json=body, headers=headers, timeout=10)

    assert retry.status_code in (200, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"
    # The lost request had committed; the retry changed nothing and reported it.
    assert written != [(note.pk, note.content, 0)]
    assert list(Note.objects.values_list("id", "content", "times_sent")) == written
    data = retry.json()["data"]
    assert Note.objects.get(pk=data["id"]).times_sent == data["times_sent"]


@pytest.mark.parametrize("kind", WRITES)
def test_12_concurrent_requests_with_one_key_write_once(gunicorn_url, auth, note, kind):
    path, body = WRITES[kind]("twelve", note.pk)
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    start = threading.Barrier(12)

    def post(_):
        start.wait()
        return requests.post(f"{gunicorn_url}{path}", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(post, range(12)))

    assert {r.status_code for r in responses} <= {200, 201, 409}
    done = [r for r in responses if r.status_code != 409]
    firsts = [r for r in done if "Idempotent-Replayed" not in r.headers]
    assert len(firsts) == 1
    assert all(r.content == firsts[0].content for r in done)
    for busy in (r for r in responses if r.status_code == 409):
        assert busy.json()["error"]["code"] == "idempotency_key_in_progress"
        assert int(busy.headers["Retry-After"]) >= 1
    assert Note.objects.count() == (2 if kind == "create" else 1)
    assert sum(Note.objects.values_list("times_sent", flat=True)) == (0 if kind == "create" else 1)


def assert_each_acknowledged_write_happened_exactly_once(load):
    assert load.given_up == []
    assert len(load.acknowledged) >= 3 * len(load.threads)
    result = check(live_database_url(), Ledger.of(load.acknowledged), "keyed %")
    assert result.clean, result
    assert result.unacknowledged == []
    for create in (a for a in load.acknowledged if a.kind == "create"):
        assert Note.objects.get(pk=create.note["id"]).content == f"keyed {create.key}"
    assert IdempotencyKey.objects.count() == len(load.acknowledged)


@pytest.fixture
def targets(make_notes):
    return [note.pk for note in make_notes(5)]


def test_killed_workers_lose_and_duplicate_no_keyed_write(live_server_process, auth, targets):
    url, server, _ = live_server_process

    with KeyedWrites(url, auth, targets) as load:
        for _ in range(3):
            os.kill(random.choice(sorted(children_of(server.pid))), signal.SIGKILL)
            assert load.wait_for(1, ok={200, 201})
        load.run_until(3, ok={200, 201})

    assert_each_acknowledged_write_happened_exactly_once(load)
    assert until(lambda: len(children_of(server.pid)) == WORKERS)


def test_a_reload_loses_and_duplicates_no_keyed_write(live_server_process, auth, targets):
    url, server, _ = live_server_process
    before = children_of(server.pid)

    with KeyedWrites(url, auth, targets) as load:
        server.send_signal(signal.SIGHUP)
        assert until(lambda: children_of(server.pid).isdisjoint(before), timeout=20)
        load.run_until(3, ok={200, 201})

    assert_each_acknowledged_write_happened_exactly_once(load)


def test_a_stop_and_restart_loses_and_duplicates_no_keyed_write(
    live_server_process, auth, targets, tmp_path
):
    url, server, _ = live_server_process

    with KeyedWrites(url, auth, targets) as load:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        time.sleep(0.5)  # clients retry against a closed port meanwhile
        with gunicorn(tmp_path, WEB_CONCURRENCY="3") as (restarted, _, _):
            load.url = restarted
            load.run_until(3, ok={200, 201})

    assert load.failures(ok={200, 201})  # the stop was felt, and retried through
    assert_each_acknowledged_write_happened_exactly_once(load)
