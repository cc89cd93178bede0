"""gunicorn's workers share the clients that connect at once, and a request's thread keeps its
connection alive itself (notes_project/gunicorn_worker.py).

The worker is gthread's own with some of its methods extended: a gunicorn
release that renames one or stops calling it leaves the spread to chance, or
sends every connection back through gthread's main thread, and these tests fail.
"""

import http.client
import select
import selectors
import socket
import time
from collections import Counter
from collections.abc import Iterator

import h11
import psutil
import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from conftest import gunicorn
from harness.wait import until
from notes_project.gunicorn_worker import ThreadWorker

CLIENTS, WORKERS = 32, 4


def connections_held(server_pid: int, port: int) -> Counter[int]:
    """How many established connections to `port` each of the server's workers holds."""
    held: Counter[int] = Counter()
    for worker in psutil.Process(server_pid).children():
        for sock in worker.net_connections(kind="tcp"):
            if sock.status == psutil.CONN_ESTABLISHED and sock.laddr.port == port:
                held[worker.pid] += 1
    return held


def connect_at_once(port: int) -> list[http.client.HTTPConnection]:
    """CLIENTS kept-alive connections, made at once, each with one request answered."""
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CLIENTS)]
    for client in clients:
        client.connect()  # all waiting in the listening socket's queue at once
    for client in clients:
        client.request("GET", "/health/live")
    answers = [client.getresponse() for client in clients]
    assert [answer.status for answer in answers] == [200] * CLIENTS
    assert all(answer.read() and not answer.will_close for answer in answers)
    return clients


@pytest.mark.django_db
def test_kept_alive_clients_that_connect_at_once_spread_over_the_workers(tmp_path):
    with gunicorn(tmp_path, WEB_CONCURRENCY=str(WORKERS), GUNICORN_THREADS="2") as served:
        url, process, _ = served
        port = int(url.rsplit(":", 1)[1])
        for client in connect_at_once(port):  # every worker warmed up by a request or more
            client.close()
        clients = connect_at_once(port)
        held = connections_held(process.pid, port)
        for client in clients:
            client.close()

    # An even spread is 8 each; gthread's own worker put 13 to 30 on one (and one,
    # two or none on others). Under the full suite's load this worker once left
    # one worker out (11, 11, 10 and 0): only the most any worker holds is held to.
    assert sum(held.values()) == CLIENTS, held
    assert max(held.values()) <= 12, held


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


@pytest.fixture
def worker() -> Iterator[ThreadWorker]:
    """The worker in this process, its main loop's parts called one pass at a time."""
    cfg = Config()
    cfg.set("threads", 2)
    cfg.set("keepalive", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    worker = ThreadWorker(1, 0, [listener], None, 30, cfg, Logger(cfg))
    worker.wsgi = hello
    worker.tpool, worker.poller = worker.get_thread_pool(), selectors.DefaultSelector()
    worker.method_queue.init()
    worker.set_accept_enabled(True)
    yield worker
    worker.tpool.shutdown()
    worker.poller.close()
    worker.method_queue.close()
    worker.tmp.close()
    listener.close()


def answered(worker: ThreadWorker, client: http.client.HTTPConnection) -> bytes:
    client.request("GET", "/")
    worker.wait_for_and_dispatch_events(timeout=5)  # accepts, or hears the kept connection
    answer = client.getresponse()
    assert answer.status == 200
    assert not answer.will_close
    return answer.read()


def test_a_requests_own_thread_keeps_its_connection_alive_without_the_main_thread(worker):
    port = worker.sockets[0].getsockname()[1]
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for _ in range(3):
        assert answered(worker, client) == b"hello"
        assert until(lambda: len(worker.kept) == 1, timeout=5, step=0.01)
        # Nothing was handed to gthread's main thread (its queue's pipe stays empty),
        # and gthread's own list of kept connections is not used.
        assert select.select([worker.method_queue.fileno()], [], [], 0)[0] == []
        assert not worker.keepalived_conns
        assert worker.nr_conns == 1

    time.sleep(1.1)  # keepalive = 1 s
    worker.murder_keepalived()  # gthread's loop calls it on every pass
    assert not worker.kept
    assert worker.nr_conns == 0
    assert client.sock.recv(1) == b""  # closed by the worker


def health_request(client: h11.Connection, request_id: str) -> bytes:
    """GET /health/live with its X-Request-ID, as `client` writes it."""
    headers = [("Host", "127.0.0.1"), ("X-Request-ID", request_id)]
    request = h11.Request(method="GET", target="/health/live", headers=headers)
    return client.send(request) + client.send(h11.EndOfMessage())


def pipelined(*request_ids: str) -> bytes:
    # h11 writes one request at a time per connection: each from a connection of its own.
    return b"".join(health_request(h11.Connection(h11.CLIENT), rid) for rid in request_ids)


def answer(sock: socket.socket, reader: h11.Connection, request_id: str) -> h11.Response:
    """The response to the request with `request_id`, the next one on `sock`, read by `reader`
    (which is told of the request first, as h11 pairs each response with one)."""
    health_request(reader, request_id)
    response = None
    while (event := reader.next_event()) is not h11.PAUSED:
        if event is h11.NEED_DATA:
            reader.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.EndOfMessage):
            break
    reader.start_next_cycle()
    assert response is not None
    return response


def test_pipelined_requests_are_all_answered_in_order_on_a_kept_connection(gunicorn_url):
    host, port = gunicorn_url.removeprefix("http://").split(":")
    reader = h11.Connection(h11.CLIENT)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Read together, the second is read ahead: gthread's main thread serves it.
        sock.sendall(pipelined("pipelined.1", "pipelined.2"))
        answers = [answer(sock, reader, "pipelined.1"), answer(sock, reader, "pipelined.2")]
        sock.sendall(pipelined("pipelined.3"))  # and the connection is still kept
        answers.append(answer(sock, reader, "pipelined.3"))
    assert [a.status_code for a in answers] == [200, 200, 200]
    ids = [dict(a.headers)[b"x-request-id"] for a in answers]
    assert ids == [b"pipelined.1", b"pipelined.2", b"pipelined.3"]


def test_a_kept_connection_serves_the_next_request_and_closes_once_idle(gunicorn_url):
    host, port = gunicorn_url.removeprefix("http://").split(":")
    reader = h11.Connection(h11.CLIENT)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(pipelined("kept.1"))
        assert answer(sock, reader, "kept.1").status_code == 200
        time.sleep(0.5)  # idle, under gunicorn's 2 s keepalive
        sock.sendall(pipelined("kept.2"))
        assert answer(sock, reader, "kept.2").status_code == 200
        assert sock.recv(1) == b""  # then closed by the worker, within the socket's 10 s
