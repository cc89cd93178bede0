"""Contract (docs/contract.md), Observing it: every response carries X-Request-ID."""

import uuid

import pytest
import requests

from notes.api.request_id import current_request_id

LIMIT = 64 * 1024


def assert_new_uuid(value):
    assert str(uuid.UUID(value)) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "extra", "status"),
    [
        ("get", "/api/notes/", {}, 200),
        ("get", "/api/notes/", {"HTTP_ACCEPT": "text/html"}, 200),
        ("get", "/api/notes/999999", {}, 404),
        ("get", "/api/nothing/here", {}, 404),
        ("delete", "/health/live", {}, 405),
        ("post", "/api/notes/", {}, 401),
        ("get", "/health/live", {}, 200),
        ("get", "/health/ready", {}, 200),
        ("get", "/api/docs/", {}, 200),
        ("get", "/admin/login/", {}, 200),
        ("get", "/no/such/page", {}, 404),
        ("get", "/api/notes/", {"HTTP_HOST": "evil.example"}, 400),
        ("get", "/admin/login/", {"HTTP_HOST": "evil.example"}, 400),
    ],
)
def test_every_kind_of_response_carries_a_new_request_id(client, method, path, extra, status):
    response = getattr(client, method)(path, **extra)

    assert response.status_code == status
    assert_new_uuid(response["X-Request-ID"])


@pytest.mark.django_db
def test_a_413_carries_one_too(auth_client):
    body = '{"content": "x"}' + " " * LIMIT
    response = auth_client.generic("POST", "/api/notes/", body, content_type="application/json")

    assert response.status_code == 413
    assert_new_uuid(response["X-Request-ID"])


def test_static_files_under_gunicorn_carry_one_too(gunicorn_url):
    response = requests.get(f"{gunicorn_url}/static/admin/css/base.css")

    assert response.status_code == 200
    assert_new_uuid(response.headers["X-Request-ID"])


@pytest.mark.django_db
def test_each_request_gets_its_own_id(client):
    ids = {client.get("/health/live")["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given",
    [
        "a",
        "abc-123",
        "req_1.2:3",
        "A" * 200,
        "ABCXYZabcxyz0189._:-",
        "1a979214-5f1c-4572-a41b-5d269c6964ec",
    ],
)
def test_a_valid_id_from_the_client_is_kept(client, given):
    response = client.get("/api/notes/", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] == given


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given",
    ["", "A" * 201, "has space", "semi;colon", "slash/ed", "quote'", "ünïcode", "tab\tin", "a,b"],
)
def test_any_other_id_is_replaced_by_a_new_uuid(client, given):
    response = client.get("/api/notes/", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert_new_uuid(response["X-Request-ID"])


@pytest.mark.django_db
def test_the_id_is_forgotten_once_the_response_is_closed(client):
    client.get("/api/notes/", HTTP_X_REQUEST_ID="finished-request")

    # Lines logged between requests (a worker starting, say) name no request.
    assert current_request_id.get() is None
