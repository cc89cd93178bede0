"""Faults: the database going away and coming back, workers killed, reloads and stops."""

import os
import re
import signal
import socket
from collections import Counter

import psycopg
import pytest
import requests
from django.core.signals import request_started
from django.db import connection

from conftest import database_url, gunicorn, live_database_url, server_params
from harness.ledger import Ledger, check
from harness.load import Creates
from harness.server import children_of
from harness.wait import until
from notes.models import Note
from notes.tests.tcp_proxy import TcpProxy


@pytest.fixture
def database_proxy(transactional_db):
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"], db["PORT"])
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def server_via_proxy(database_proxy, tmp_path):
    name = connection.settings_dict["NAME"]
    url = database_url(name).replace(
        f":{connection.settings_dict['PORT']}/", f":{database_proxy.port}/"
    )
    with gunicorn(tmp_path, DATABASE_URL=url, WEB_CONCURRENCY="2") as (server_url, _, _):
        yield server_url


def test_the_proxy_closes_the_servers_end_once_the_client_has_gone():
    """Catches a session left on the test database after a server behind the proxy stops:
    the direction that sees the client leave must end the other, blocked on the server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        proxy = TcpProxy("127.0.0.1", listener.getsockname()[1])
        proxy.start()
        try:
            client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
            upstream, _ = listener.accept()
            upstream.settimeout(10)
            # A query and its answer: both directions' threads are then waiting to read.
            client.sendall(b"?")
            assert upstream.recv(1) == b"?"
            upstream.sendall(b"!")
            assert client.recv(1) == b"!"
            client.close()  # as a stopped worker's connection ends

            assert upstream.recv(1) == b""  # the server hears the end (a timeout if not)
            upstream.close()
        finally:
            proxy.stop()


LOGIN_PAGES = ["/admin/login/", "/api-auth/login/"]


def csrf_of(form):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]


def test_database_outage_answers_503_then_recovers_by_itself(
    server_via_proxy, database_proxy, token
):
    url, auth = server_via_proxy, {"Authorization": f"Token {token.key}"}
    assert requests.get(f"{url}/api/notes/").status_code == 200
    browser = requests.Session()  # with the login forms' CSRF cookies, got while all is well
    forms = {page: browser.get(f"{url}{page}") for page in LOGIN_PAGES}
    assert {form.status_code for form in forms.values()} == {200}

    database_proxy.stop()

    # Django's own pages too: a password login needs the database (a 500 before).
    for page in LOGIN_PAGES:
        login = {"username": "someone", "password": "x"}
        login["csrfmiddlewaretoken"] = csrf_of(forms[page])
        refused = browser.post(f"{url}{page}", data=login, headers={"Referer": url}, timeout=5)
        assert refused.status_code == 503, (page, refused.status_code)
        assert int(refused.headers["Retry-After"]) > 0
        assert "Traceback" not in refused.text

    # timeout=2: a request must not hang while the database is away.
    listing = requests.get(f"{url}/api/notes/", timeout=2)
    write = requests.post(f"{url}/api/notes/", json={"content": "lost?"}, headers=auth, timeout=2)
    ready = requests.get(f"{url}/health/ready", timeout=2)
    assert (listing.status_code, write.status_code, ready.status_code) == (503, 503, 503)
    assert listing.json()["error"]["code"] == "database_unavailable"
    assert int(listing.headers["Retry-After"]) > 0
    assert requests.get(f"{url}/health/live", timeout=2).status_code == 200
    for body in (listing.text, write.text, ready.text):
        assert "Traceback" not in body
        assert "psycopg" not in body
        assert "SELECT" not in body

    database_proxy.start()

    assert until(lambda: requests.get(f"{url}/health/ready").status_code == 200)
    assert requests.get(f"{url}/api/notes/").status_code == 200
    assert not Note.objects.filter(content="lost?").exists()


def test_a_connection_the_server_ended_is_unusable_and_replaced(transactional_db):
    connection.ensure_connection()
    assert connection.is_usable()
    backend = connection.connection.info.backend_pid

    with psycopg.connect(**server_params(), dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])

    assert until(lambda: not connection.is_usable(), timeout=5)
    # The next request checks the connection before its first query.
    request_started.send(sender=None)
    assert Note.objects.count() == 0
    assert connection.connection.info.backend_pid != backend


def auth(token):
    return {"Authorization": f"Token {token.key}"}


def assert_every_acknowledged_write_is_stored_once(load, at_least):
    ledger = Ledger(creates=Counter(load.acknowledged()))
    result = check(live_database_url(), ledger, "load %")
    assert result.clean, result
    assert len(ledger.creates) >= at_least


def test_a_killed_worker_is_replaced_and_only_its_requests_fail(live_server_process, token):
    url, server, _ = live_server_process
    before = children_of(server.pid)

    with Creates(url, auth(token)) as load:
        os.kill(min(before), signal.SIGKILL)
        load.run_until(5, ok={201})

    # Only the requests the killed worker held can fail: each client has one
    # request at a time, so no client fails twice, and none gets an error status.
    failures = load.failures(ok={201})
    assert max(Counter(f.client for f in failures).values(), default=0) <= 1, failures
    assert all(isinstance(f.status, str) for f in failures), failures
    assert_every_acknowledged_write_is_stored_once(load, at_least=5 * len(load.threads))
    assert until(lambda: len(children_of(server.pid)) == len(before))
    assert children_of(server.pid) != before


def test_a_graceful_reload_under_load_drops_nothing(live_server_process, token):
    url, server, _ = live_server_process
    before = children_of(server.pid)

    with Creates(url, auth(token)) as load:
        server.send_signal(signal.SIGHUP)
        assert until(lambda: children_of(server.pid).isdisjoint(before), timeout=20)
        load.run_until(5, ok={201})

    assert load.failures(ok={201}) == []
    assert_every_acknowledged_write_is_stored_once(load, at_least=5 * len(load.threads))


def test_a_graceful_stop_under_load_loses_no_accepted_write(live_server_process, token):
    url, server, log = live_server_process

    with Creates(url, auth(token)) as load:
        assert load.wait_for(3, ok={201})
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        load.stop()

    # After the stop, connections are refused; nothing acknowledged is missing,
    # and no request that reached the app was cut off with an error status.
    failures = load.failures(ok={201})
    assert all(isinstance(f.status, str) for f in failures), failures
    assert_every_acknowledged_write_is_stored_once(load, at_least=3 * len(load.threads))
    assert "Handling signal: term" in log.read_text()
