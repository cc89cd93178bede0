"""Contract, The envelope and Endpoints: one top-level key, no redirects, JSON under /api/."""

import json

import pytest
import requests

from notes.api.serializers import NoteSerializer
from notes.models import Note

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/"),
    ("get", "/api/notes/"),
    ("get", "/api/notes/{id}/"),
    ("post", "/api/notes/{id}/send/"),
    ("post", "/api/notes/send-next/"),
    ("get", "/api/schema/"),
    ("get", "/api/docs/"),
    ("get", "/api/redoc/"),
    ("get", "/health/live/"),
    ("get", "/health/ready/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("slash", [True, False])
def test_every_path_works_with_and_without_its_slash(auth_client, note, method, path, slash):
    path = path.format(id=note.pk)
    if not slash:
        path = path.rstrip("/")

    response = getattr(auth_client, method)(path)

    assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize(("method", "status"), [("put", 200), ("patch", 200), ("delete", 204)])
@pytest.mark.parametrize("slash", [True, False])
def test_put_patch_and_delete_work_with_and_without_the_slash(
    auth_client, note, method, status, slash
):
    """Catches a route that serves these methods only under one spelling of the path."""
    path = f"/api/notes/{note.pk}" + ("/" if slash else "")
    body = None if method == "delete" else {"content": "changed"}

    response = getattr(auth_client, method)(path, body)

    assert response.status_code == status
    stored = Note.objects.filter(pk=note.pk).values_list("content", flat=True)
    assert list(stored) == ([] if method == "delete" else ["changed"])


@pytest.mark.parametrize("path", [path for method, path in ENDPOINTS if method == "get"])
@pytest.mark.parametrize("slash", [True, False])
def test_head_answers_as_get_does_with_no_body(
    gunicorn_url, transactional_db, token, note, path, slash
):
    """Under gunicorn, as clients get it. Catches HEAD refused (405) or answered otherwise
    than GET, on either spelling of the path."""
    url = gunicorn_url + path.format(id=note.pk)
    url = url if slash else url.rstrip("/")
    auth = {"Authorization": f"Token {token.key}"}

    head, get = requests.head(url, headers=auth), requests.get(url, headers=auth)

    assert (head.status_code, get.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers.get("ETag") == get.headers.get("ETag")


@pytest.mark.parametrize("path", ["/api/notes", "/api/notes/"])
def test_a_post_without_the_slash_creates_without_a_redirect(auth_client, path):
    response = auth_client.post(path, {"content": "kept"})

    assert response.status_code == 201
    assert response.json()["data"]["content"] == "kept"


def test_a_note_is_wrapped_in_data(api_client, note):
    body = api_client.get(f"/api/notes/{note.pk}/").json()

    assert list(body) == ["data"]
    assert body["data"]["id"] == note.pk


def test_a_list_is_wrapped_in_data_with_links(api_client, note):
    body = api_client.get("/api/notes/").json()

    assert set(body) == {"data", "links"}
    assert [item["id"] for item in body["data"]] == [note.pk]
    assert body["links"] == {"next": None, "previous": None}


def test_an_error_is_wrapped_in_error(api_client):
    body = api_client.get("/api/notes/424242/").json()

    assert list(body) == ["error"]
    assert body["error"] == {
        "status": 404,
        "code": "not_found",
        "message": "No Note matches the given query.",
    }


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ["/api/nothing", "/api/notes/1/nothing/", "/api/v2/notes/"])
def test_unknown_paths_under_api_answer_an_enveloped_404(auth_client, method, path):
    response = getattr(auth_client, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_unknown_paths_under_api_stay_json_for_browsers(api_client, accept):
    response = api_client.get("/api/nothing", HTTP_ACCEPT=accept)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/api/notes/"), ("delete", "/api/notes/"), ("get", "/api/notes/send-next/")],
)
def test_a_wrong_method_answers_405(auth_client, method, path):
    response = getattr(auth_client, method)(path)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "Allow" in response


def test_an_unexpected_error_is_an_enveloped_500_without_internals(api_client, note, monkeypatch):
    def explode(self, instance):
        raise RuntimeError("secret internals: SELECT password FROM users")

    monkeypatch.setattr(NoteSerializer, "to_representation", explode)

    response = api_client.get(f"/api/notes/{note.pk}/")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"status": 500, "code": "server_error", "message": "A server error occurred."}
    }
    assert b"secret" not in response.content
    assert b"Traceback" not in response.content


def test_the_browsable_api_shows_the_wrapped_json(api_client, note):
    response = api_client.get(f"/api/notes/{note.pk}/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"&quot;data&quot;" in response.content


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; indent=2"])
def test_every_json_client_gets_the_same_envelope(api_client, dated_note, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = api_client.get(f"/api/notes/{dated_note.pk}/", **headers)

    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == {
        "data": {
            "id": dated_note.pk,
            "content": "Buy milk",
            "times_sent": 0,
            "created_at": "2024-01-15T10:30:00.123456Z",
            "updated_at": "2024-07-01T08:00:00Z",
        }
    }


def test_line_separators_are_escaped_as_drf_escapes_them(auth_client):
    response = auth_client.post("/api/notes/", {"content": "one\u2028two\u2029three"})

    assert b"\\u2028" in response.content
    assert b"\\u2029" in response.content
    assert response.json()["data"]["content"] == "one\u2028two\u2029three"


def test_a_browser_still_gets_the_browsable_api(api_client, note):
    response = api_client.get(f"/api/notes/{note.pk}/", HTTP_ACCEPT="text/html")

    assert response["Content-Type"].startswith("text/html")
    # The page shows the wrapped JSON.
    assert b"&quot;data&quot;" in response.content
