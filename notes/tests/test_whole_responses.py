"""Contract, More than one machine: a worker killed mid-response leaves nothing half-sent.

gunicorn's responses go through notes_project.whole_responses (installed by
gunicorn.conf.py): the header block leaves with the body, in one write, so a
balancer sees either no answer, which it retries on another instance, or all of it.
"""

import inspect
import os
import signal
import socket
import tempfile
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import Response
from gunicorn.workers import gthread, sync

from harness.server import free_port, gunicorn
from harness.wait import until
from notes_project import whole_responses


def test_a_worker_killed_between_its_headers_and_its_body_has_sent_nothing(tmp_path):
    """A real gunicorn worker, stalled once its header block is ready, is killed (SIGKILL)
    and the client's socket read to its end. Catches headers sent ahead of the body
    (GUNICORN_WHOLE_RESPONSES=false, or whole_responses not installed): the client then
    holds a status line and headers with no body, a half answer no balancer can retry."""
    marker = tmp_path / "stalled"
    env = {**os.environ, "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    env["STALL_MARKER"] = str(marker)
    app = "notes.tests.stalling_app:application"
    with gunicorn(env, tmp_path / "gunicorn.log", ready="/", app=app) as server:
        with socket.create_connection(("127.0.0.1", int(env["PORT"])), timeout=30) as client:
            client.sendall(b"GET /stall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert until(lambda: marker.exists() and marker.read_text(), timeout=30)
            os.kill(int(marker.read_text()), signal.SIGKILL)
            received = read_to_the_end(client)
        assert server.process.poll() is None  # the master lives on

    assert received == b""


def read_to_the_end(client):
    received = b""
    try:
        while chunk := client.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # the end too: the kernel closed the killed worker's connection
    return received


class RecordingSocket:
    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(bytes(data))

    def sendfile(self, file, offset=0, count=None):
        file.seek(offset)
        self.writes.append(file.read(count))
        return count

    def fileno(self):
        return -1


@pytest.fixture
def respond():
    whole_responses.install()

    def respond(method, status, headers):
        request = SimpleNamespace(version=(1, 1), method=method, should_close=lambda: False)
        socket = RecordingSocket()
        response = Response(request, socket, Config())
        response.start_response(status, headers)
        return response, socket

    return respond


def test_the_header_block_and_the_body_leave_in_one_write(respond):
    response, socket = respond("GET", "200 OK", [("Content-Length", "11")])
    response.write(b'{"data": 1}')
    response.close()

    (write,) = socket.writes
    assert write.startswith(b"HTTP/1.1 200 OK\r\n")
    assert write.endswith(b'\r\n\r\n{"data": 1}')


@pytest.mark.parametrize(("method", "status"), [("DELETE", "204 No Content"), ("HEAD", "200 OK")])
def test_a_response_without_a_body_still_sends_its_headers_once_it_closes(respond, method, status):
    response, socket = respond(method, status, [])
    response.write(b"")
    assert socket.writes == []

    response.close()

    (write,) = socket.writes
    assert write.startswith(f"HTTP/1.1 {status}\r\n".encode())


def test_a_file_sent_by_sendfile_follows_its_headers(respond):
    response, socket = respond("GET", "200 OK", [("Content-Length", "4")])
    with tempfile.TemporaryFile() as file:
        file.write(b"body")
        file.seek(0)
        response.sendfile(SimpleNamespace(filelike=file))
    response.close()

    assert socket.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert socket.writes[1:] == [b"body"]


# What the patch relies on in gunicorn itself: an upgrade that changes one fails here.


@pytest.mark.parametrize("worker", [gthread.ThreadWorker, sync.SyncWorker])
def test_gunicorns_workers_build_their_responses_with_wsgi_create(worker):
    # The worker classes this service runs (GUNICORN_WORKER_CLASS: gthread, or sync).
    assert "wsgi.create(" in inspect.getsource(worker.handle_request)


def test_a_response_from_wsgi_create_leaves_in_one_write():
    whole_responses.install()
    config = Config()
    request = next(iter(RequestParser(config, iter([b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"]), None)))
    socket = RecordingSocket()

    response, _ = wsgi.create(request, socket, ("127.0.0.1", 1), ("127.0.0.1", 8000), config)
    response.start_response("200 OK", [("Content-Length", "11")])
    response.write(b'{"data": 1}')
    response.close()

    (write,) = socket.writes
    assert write.startswith(b"HTTP/1.1 200 OK\r\n")
    assert write.endswith(b'\r\n\r\n{"data": 1}')


def test_under_gunicorn_responses_are_whole_and_static_files_intact(gunicorn_url, transactional_db):
    # The same code path the balancer sees: API, HTML and a static file by sendfile.
    note_list = requests.get(f"{gunicorn_url}/api/notes/")
    page = requests.get(f"{gunicorn_url}/api/", headers={"Accept": "text/html"})
    static = requests.get(
        f"{gunicorn_url}/static/admin/css/base.css", headers={"Accept-Encoding": "identity"}
    )

    assert note_list.status_code == 200
    assert "data" in note_list.json()
    assert page.status_code == 200
    assert page.text.rstrip().endswith("</html>")
    assert static.status_code == 200
    assert len(static.content) == int(static.headers["Content-Length"]) > 1000
