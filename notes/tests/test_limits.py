"""Contract, Errors: a request body over 64 KiB answers 413, with or without Content-Length."""

import json

import pytest
import requests

from notes.models import Note

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
    assert not Note.objects.exists()


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
