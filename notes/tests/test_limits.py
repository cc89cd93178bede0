"""Contract, Errors: a request body over 64 KiB answers 413, with or without Content-Length."""

import asyncio
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from asgiref.testing import ApplicationCommunicator
from django.db import connections

from notes.models import Note
from notes_project.asgi import application as asgi_application

LIMIT = 64 * 1024


def padded_body(size):
    """A valid note as JSON, padded with blanks to exactly `size` bytes."""
    body = json.dumps({"content": "padded"})
    return body[:-1] + " " * (size - len(body)) + "}"


@pytest.mark.django_db
def test_a_body_of_exactly_64_kib_is_accepted(auth_client):
    response = auth_client.generic(
        "POST", "/api/notes/", padded_body(LIMIT), content_type="application/json"
    )

    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT])
def test_a_larger_body_answers_413_in_the_envelope(auth_client, size):
    response = auth_client.generic(
        "POST", "/api/notes/", padded_body(size), content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["error"] == {
        "status": 413,
        "code": "request_too_large",
        "message": "Request body over 64 KiB.",
    }
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Connection"] == "close"
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_the_document_states_the_limit_in_force(api_client, settings):
    settings.REQUEST_BODY_LIMIT = 10 * 1024

    schema = api_client.get("/api/schema/?format=json").json()

    described = schema["paths"]["/api/notes/"]["post"]["responses"]["413"]["description"]
    assert described.startswith("Request body over 10 KiB")


@pytest.mark.django_db
def test_a_limit_of_no_whole_kib_is_stated_in_bytes(auth_client, settings):
    settings.REQUEST_BODY_LIMIT = 1000

    response = auth_client.generic(
        "POST", "/api/notes/", padded_body(1001), content_type="application/json"
    )

    assert response.json()["error"]["message"] == "Request body over 1000 bytes."


@pytest.fixture
def live_auth(gunicorn_url, transactional_db, token):
    return gunicorn_url, {"Authorization": f"Token {token.key}", "Content-Type": "application/json"}


def chunks(body, size=4096):
    data = body.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_under_gunicorn_a_declared_large_body_answers_413(live_auth):
    url, headers = live_auth

    response = requests.post(f"{url}/api/notes/", data=padded_body(LIMIT + 1), headers=headers)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("size", [LIMIT + 1, 160 * LIMIT])
def test_under_gunicorn_a_large_chunked_body_answers_413(live_auth, size):
    url, headers = live_auth

    # A generator body is sent with Transfer-Encoding: chunked and no length.
    response = requests.post(f"{url}/api/notes/", data=chunks(padded_body(size)), headers=headers)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not Note.objects.exists()


def test_under_gunicorn_a_small_chunked_body_is_read(live_auth):
    url, headers = live_auth

    response = requests.post(
        f"{url}/api/notes/", data=chunks('{"content": "chunked"}', 5), headers=headers
    )

    assert response.status_code == 201
    assert Note.objects.get().content == "chunked"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_under_gunicorn_a_413_closes_the_connection_with_the_body_unread(live_auth, chunked):
    """Also pins gunicorn's private way to close that ChunkedBodyLimit takes.

    WSGI forbids the app a Connection header: gunicorn drops the 413's and keeps
    the connection, unless told through `start_response.__self__.force_close()`.
    Should a gunicorn upgrade move that, this fails (no `Connection: close`).
    """
    url, headers = live_auth
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if chunked:
        # One chunk twice the limit, of which one byte past the limit is sent.
        length, body = "Transfer-Encoding: chunked", f"{2 * LIMIT:x}\r\n{{" + " " * LIMIT
    else:
        # Only the body's first byte is sent.
        length, body = f"Content-Length: {LIMIT + 1}", "{"
    request = f"POST /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}{length}\r\n\r\n{body}"
    address = (urlsplit(url).hostname, urlsplit(url).port)

    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):  # until the server closes its end
            received += chunk

    status_line, *header_lines = received.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert status_line.startswith("HTTP/1.1 413")
    assert "Connection: close" in header_lines


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_under_gunicorn_a_pooled_client_goes_on_after_a_413(live_auth, chunked):
    url, headers = live_auth
    session = requests.Session()

    for size in (LIMIT + 1, 160 * LIMIT):
        body = chunks(padded_body(size)) if chunked else padded_body(size)
        refused = session.post(f"{url}/api/notes/", data=body, headers=headers)
        created = session.post(f"{url}/api/notes/", json={"content": "next"}, headers=headers)

        assert refused.status_code == 413
        assert refused.headers["Connection"] == "close"
        assert created.status_code == 201
    assert Note.objects.count() == 2


def asgi_post(token, body, chunk_size=4096):
    """POST a chunked body (no Content-Length) to the ASGI application; (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/notes/",
        "raw_path": b"/api/notes/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Token {token.key}".encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def exchange():
        app = ApplicationCommunicator(asgi_application, scope)
        for chunk in chunks(body, chunk_size):
            await app.send_input({"type": "http.request", "body": chunk, "more_body": True})
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await app.receive_output(30)
        content = await app.receive_output(30)
        await app.wait(30)
        return start["status"], dict(start["headers"]), content["body"]

    return asyncio.run(exchange())


@pytest.fixture
def asgi_db(transactional_db, monkeypatch):
    # Django serves each ASGI request's sync code in a thread of its own, whose
    # connection must close when the request ends, not linger past the test.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.mark.parametrize("size", [LIMIT + 1, 160 * LIMIT])
def test_under_asgi_a_large_chunked_body_answers_413(asgi_db, token, size):
    status, headers, body = asgi_post(token, padded_body(size))

    assert status == 413
    assert headers[b"Connection"] == b"close"
    assert json.loads(body)["error"]["code"] == "request_too_large"
    assert not Note.objects.exists()


def test_under_asgi_a_small_chunked_body_is_read(asgi_db, token):
    status, _, _ = asgi_post(token, '{"content": "chunked over asgi"}', chunk_size=5)

    assert status == 201
    assert Note.objects.get().content == "chunked over asgi"
