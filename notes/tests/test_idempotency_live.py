"""Contract, Retries are safe, under fire: lost answers, racing retries and killed workers."""

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from conftest import children_of, gunicorn
from notes.idempotency.models import IdempotencyKey
from notes.models import Note
from notes.tests.tcp_proxy import TcpProxy
from notes.tests.test_faults import live_server_process, until  # noqa: F401

# live_server_process is a fixture, used by name below: gunicorn with 3 workers of 2 threads.
WORKERS = 3

WRITES = {
    "create": lambda key, note: ("/api/notes/", {"content": f"keyed {key}"}),
    "send": lambda key, note: (f"/api/notes/{note}/send/", None),
    "send-next": lambda key, note: ("/api/notes/send-next/", None),
}


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


@dataclass(frozen=True)
class Acknowledged:
    kind: str
    key: str
    target: int
    note: dict


class KeyedWriteLoad:
    """Clients creating and sending, each write with its own key, retried until acknowledged."""

    def __init__(self, url, token, targets, threads=6):
        self.url, self.token, self.targets = url, token, targets
        self.stop = threading.Event()
        self.acknowledged: list[Acknowledged] = []
        self.failures: list = []  # status codes and exception names, each followed by a retry
        self.given_up: list = []
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, thread):
        session, rand, i = requests.Session(), random.Random(thread), 0
        while not self.stop.is_set():
            kind = rand.choice(list(WRITES))
            self.write_once(session, kind, f"{thread}-{i}-{uuid.uuid4().hex[:8]}", rand)
            i += 1

    def write_once(self, session, kind, key, rand):
        target = rand.choice(self.targets)
        path, body = WRITES[kind](key, target)
        headers = {"Authorization": f"Token {self.token}", "Idempotency-Key": key}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = session.post(f"{self.url}{path}", json=body, headers=headers, timeout=10)
            except requests.RequestException as exc:
                self.failures.append(type(exc).__name__)
            else:
                if r.status_code in (200, 201):
                    self.acknowledged.append(Acknowledged(kind, key, target, r.json()["data"]))
                    return
                self.failures.append(r.status_code)
            time.sleep(0.05)
        self.given_up.append(key)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc):
        time.sleep(1)
        self.stop.set()
        for thread in self.threads:
            thread.join()


def assert_each_acknowledged_write_happened_exactly_once(load):
    assert load.given_up == []
    assert len(load.acknowledged) > 20
    creates = Counter(f"keyed {a.key}" for a in load.acknowledged if a.kind == "create")
    stored = Counter(
        Note.objects.filter(content__startswith="keyed ").values_list("content", flat=True)
    )
    assert stored == creates
    sends = Counter(a.target for a in load.acknowledged if a.kind == "send")
    sends.update(a.note["id"] for a in load.acknowledged if a.kind == "send-next")
    counted = Counter(dict(Note.objects.filter(times_sent__gt=0).values_list("id", "times_sent")))
    assert counted == sends
    for create in (a for a in load.acknowledged if a.kind == "create"):
        assert Note.objects.get(pk=create.note["id"]).content == f"keyed {create.key}"
    assert IdempotencyKey.objects.count() == len(load.acknowledged)


def workers_of(server):
    return children_of(server.pid)


@pytest.fixture
def targets(make_notes):
    return [note.pk for note in make_notes(5)]


def test_killed_workers_lose_and_duplicate_no_keyed_write(
    live_server_process,  # noqa: F811
    token,
    targets,
):
    url, server, _ = live_server_process

    with KeyedWriteLoad(url, token.key, targets) as load:
        for _ in range(3):
            os.kill(random.choice(sorted(workers_of(server))), signal.SIGKILL)
            time.sleep(0.7)

    assert_each_acknowledged_write_happened_exactly_once(load)
    assert until(lambda: len(workers_of(server)) == WORKERS)


def test_a_reload_loses_and_duplicates_no_keyed_write(
    live_server_process,  # noqa: F811
    token,
    targets,
):
    url, server, _ = live_server_process
    before = workers_of(server)

    with KeyedWriteLoad(url, token.key, targets) as load:
        server.send_signal(signal.SIGHUP)
        assert until(lambda: workers_of(server).isdisjoint(before), timeout=20)

    assert_each_acknowledged_write_happened_exactly_once(load)


def test_a_stop_and_restart_loses_and_duplicates_no_keyed_write(
    live_server_process,  # noqa: F811
    token,
    targets,
    tmp_path,
):
    url, server, _ = live_server_process

    with KeyedWriteLoad(url, token.key, targets) as load:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        time.sleep(0.5)  # clients retry against a closed port meanwhile
        with gunicorn(tmp_path, WEB_CONCURRENCY="3") as (restarted, _, _):
            load.url = restarted
            time.sleep(1)
            load.stop.set()
            for thread in load.threads:
                thread.join()

    assert load.failures  # the stop was felt, and retried through
    assert_each_acknowledged_write_happened_exactly_once(load)
