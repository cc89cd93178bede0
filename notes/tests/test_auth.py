"""Contract, Who may do what: open reads, authenticated writes, tokens, sessions, rate limits."""

import hashlib
import io
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core import checks
from django.core.management import call_command
from rest_framework.permissions import BasePermission
from rest_framework.test import APIClient

from harness.server import workers_that_answered
from notes.api.views import NoteViewSet
from notes.models import Note
from notes.tokens.models import Token

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/notes/"),
    ("put", "/api/notes/{id}/"),
    ("patch", "/api/notes/{id}/"),
    ("delete", "/api/notes/{id}/"),
    ("post", "/api/notes/{id}/send/"),
    ("post", "/api/notes/send-next/"),
]


def test_anyone_may_read_by_default(api_client, note):
    assert api_client.get("/api/notes/").status_code == 200
    assert api_client.get(f"/api/notes/{note.pk}/").status_code == 200


def test_a_permission_that_decides_note_by_note_is_refused_at_start(monkeypatch):
    # Writes never read their note first, so has_object_permission would go unasked.
    class OwnNotesOnly(BasePermission):
        def has_object_permission(self, request, view, obj):
            return False

    assert not checks.run_checks(tags=[checks.Tags.security])
    monkeypatch.setattr(
        NoteViewSet, "permission_classes", [*NoteViewSet.permission_classes, OwnNotesOnly]
    )

    errors = checks.run_checks(tags=[checks.Tags.security])

    assert [error.id for error in errors] == ["notes.E001"]
    assert "OwnNotesOnly" in errors[0].msg


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writes_without_credentials_answer_401(api_client, note, method, path):
    response = getattr(api_client, method)(path.format(id=note.pk), {"content": "x"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"
    note.refresh_from_db()
    assert (note.content, note.times_sent) == ("Buy milk", 0)


@pytest.mark.parametrize(
    "header",
    ["Token wrong", "Token", "Token a b", "Token nul\x00key", "Token " + "f" * 55, "Token ÿ"],
)
def test_bad_credentials_answer_401_even_on_reads(api_client, header):
    response = api_client.get("/api/notes/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_failed"


def test_reads_need_a_user_when_public_read_is_off(api_client, auth_client, note, settings):
    settings.NOTES_PUBLIC_READ = False

    response = api_client.get(f"/api/notes/{note.pk}/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert api_client.get("/api/notes/").status_code == 401
    assert auth_client.get(f"/api/notes/{note.pk}/").status_code == 200


def test_a_token_made_by_drf_create_token_authenticates(user, api_client):
    out = io.StringIO()
    call_command("drf_create_token", user.username, stdout=out)
    # DRF's shape, which the README's tour reads with awk '{print $3}'.
    words = out.getvalue().split()
    key = words.pop(2)
    assert words == ["Generated", "token", "for", "user", "alice"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert key.startswith("notes_")
    assert api_client.post("/api/notes/", {"content": "by token"}).status_code == 201
    assert Token.objects.get(user=user).digest == hashlib.sha256(key.encode()).hexdigest()


def test_a_session_user_writes_with_a_csrf_token_only(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    refused = client.post("/api/notes/", {"content": "no csrf"})

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in refused.json()["error"]["message"]
    assert not Note.objects.exists()


def test_an_inactive_users_token_is_refused(api_client, user, token):
    user.is_active = False
    user.save()

    response = api_client.post(
        "/api/notes/", {"content": "x"}, HTTP_AUTHORIZATION=f"Token {token.key}"
    )

    assert response.status_code == 401


def test_anonymous_clients_are_rate_limited_with_retry_after(api_client, monkeypatch):
    monkeypatch.setattr(
        "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES",
        {"anon": "3/day", "user": "100/minute"},
    )

    statuses = [api_client.get("/api/notes/").status_code for _ in range(4)]
    limited = api_client.get("/api/notes/")

    assert statuses == [200, 200, 200, 429]
    assert limited.json()["error"]["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 24 * 3600


def test_an_invented_x_forwarded_for_does_not_dodge_the_limit(api_client, monkeypatch):
    monkeypatch.setattr(
        "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES",
        {"anon": "2/day", "user": "100/minute"},
    )

    statuses = [
        api_client.get("/api/notes/", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
        for i in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_users_are_rate_limited_by_account_not_address(auth_client, api_client, monkeypatch):
    monkeypatch.setattr(
        "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES",
        {"anon": "100/minute", "user": "2/day"},
    )

    statuses = [auth_client.get("/api/notes/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert api_client.get("/api/notes/").status_code == 200


def test_anonymous_clients_are_held_to_the_anonymous_rate_only(api_client, monkeypatch):
    monkeypatch.setattr(
        "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES",
        {"anon": "5/day", "user": "1/day"},
    )

    statuses = [api_client.get("/api/notes/").status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]


def test_without_the_rate_limit_store_requests_are_served_unthrottled(api_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens here

    assert api_client.get("/api/notes/").status_code == 200


def test_rate_limits_hold_across_all_gunicorn_workers(gunicorn_served, transactional_db):
    """Catches a limit counted per worker process: more than one worker answers here."""
    url, _, log = gunicorn_served
    request_ids = [f"across-workers-{i}-{uuid.uuid4().hex}" for i in range(40)]

    def get(request_id):
        # A new connection each, several at once: the workers share the listening socket.
        headers = {"X-Request-ID": request_id, "Connection": "close"}
        return requests.get(f"{url}/api/notes/", headers=headers, timeout=10).status_code

    # The server allows 30 anonymous requests a day (see conftest) over 4 workers.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(get, request_ids))

    answered_by = workers_that_answered(log, request_ids)
    assert len(set(answered_by.values())) > 1, answered_by
    assert statuses.count(200) == 30
    assert statuses.count(429) == 10
