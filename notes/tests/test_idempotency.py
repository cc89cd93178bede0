"""Contract, Retries are safe: a write retried with its Idempotency-Key gets its first outcome."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.views import APIView

from conftest import server_params
from notes.idempotency.models import IdempotencyKey
from notes.idempotency.store import LOCK_SQL
from notes.models import Note
from notes.tokens.models import Token

KEY = "3f0c5e1a-retry-of-this-write"


def keyed(client, method, path, data=None, key=KEY, **headers):
    return getattr(client, method)(path, data, format="json", HTTP_IDEMPOTENCY_KEY=key, **headers)


def assert_replayed(first, retry):
    assert retry.status_code == first.status_code
    assert retry.content == first.content
    for header in ("Content-Type", "Location", "ETag"):
        assert retry.get(header) == first.get(header), header
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


@pytest.fixture
def other_client(django_user_model):
    bob = django_user_model.objects.create_user("bob", password="another horse battery")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.issue(bob).key}")
    return client


def test_a_retried_create_writes_once_and_answers_the_first_outcome(auth_client):
    first = keyed(auth_client, "post", "/api/notes/", {"content": "written once"})
    retry = keyed(auth_client, "post", "/api/notes/", {"content": "written once"})

    assert first.status_code == 201
    assert_replayed(first, retry)
    assert first["Location"].endswith(f"/api/notes/{first.json()['data']['id']}")
    assert Note.objects.count() == 1


def test_either_spelling_of_the_path_is_the_same_request(auth_client):
    first = keyed(auth_client, "post", "/api/notes", {"content": "slash or not"})
    retry = keyed(auth_client, "post", "/api/notes/", {"content": "slash or not"})

    assert_replayed(first, retry)
    assert Note.objects.count() == 1


def test_a_replay_answers_the_first_outcome_even_after_the_note_changed(auth_client):
    first = keyed(auth_client, "post", "/api/notes/", {"content": "as created"})
    note_id = first.json()["data"]["id"]
    auth_client.patch(f"/api/notes/{note_id}/", {"content": "edited since"}, format="json")

    retry = keyed(auth_client, "post", "/api/notes/", {"content": "as created"})

    assert_replayed(first, retry)
    assert retry.json()["data"]["content"] == "as created"


def test_a_retried_send_counts_once(auth_client, note):
    first = keyed(auth_client, "post", f"/api/notes/{note.pk}/send/")
    retry = keyed(auth_client, "post", f"/api/notes/{note.pk}/send")

    assert_replayed(first, retry)
    note.refresh_from_db()
    assert note.times_sent == 1


def test_a_retried_send_next_answers_the_same_note_and_counts_once(auth_client, make_notes):
    oldest, newer = make_notes(2)

    first = keyed(auth_client, "post", "/api/notes/send-next/")
    # The newer note is now the least sent; a retry still answers the first pick.
    retry = keyed(auth_client, "post", "/api/notes/send-next/")

    assert_replayed(first, retry)
    assert retry.json()["data"]["id"] == oldest.pk
    counts = dict(Note.objects.values_list("id", "times_sent"))
    assert counts == {oldest.pk: 1, newer.pk: 0}


def test_a_retried_put_does_not_undo_a_later_edit(auth_client, note):
    first = keyed(auth_client, "put", f"/api/notes/{note.pk}/", {"content": "put once"})
    auth_client.patch(f"/api/notes/{note.pk}/", {"content": "edited after"}, format="json")

    retry = keyed(auth_client, "put", f"/api/notes/{note.pk}/", {"content": "put once"})

    assert_replayed(first, retry)
    note.refresh_from_db()
    assert note.content == "edited after"


def test_a_retried_patch_replays_its_etag(auth_client, note):
    first = keyed(auth_client, "patch", f"/api/notes/{note.pk}/", {"content": "patched"})
    retry = keyed(auth_client, "patch", f"/api/notes/{note.pk}/", {"content": "patched"})

    assert first.status_code == 200
    assert first["ETag"]
    assert_replayed(first, retry)


def test_a_retried_delete_answers_204_again(auth_client, note):
    first = keyed(auth_client, "delete", f"/api/notes/{note.pk}/")
    retry = keyed(auth_client, "delete", f"/api/notes/{note.pk}/")

    assert first.status_code == 204
    assert_replayed(first, retry)
    assert retry.content == b""
    assert "Content-Type" not in retry
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/api/notes/", {"content": "another body"}),
        ("post", "/api/notes/{id}/send/", None),
        ("put", "/api/notes/{id}/", {"content": "first body"}),
    ],
    ids=["body", "path", "method"],
)
def test_the_same_key_for_another_request_is_a_422_and_writes_nothing(
    auth_client, method, path, data
):
    first = keyed(auth_client, "post", "/api/notes/", {"content": "first body"})
    note_id = first.json()["data"]["id"]
    before = list(Note.objects.values_list("id", "content", "times_sent", "updated_at"))

    response = keyed(auth_client, method, path.format(id=note_id), data)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert list(Note.objects.values_list("id", "content", "times_sent", "updated_at")) == before


@pytest.mark.parametrize(
    "key",
    ["", " ", "two words", "caf\u00e9", "tab\tinside", "\x7f", "trailing-newline\n", "k" * 256],
    ids=repr,
)
def test_a_malformed_key_is_a_400_and_writes_nothing(auth_client, key):
    response = keyed(auth_client, "post", "/api/notes/", {"content": "not written"}, key=key)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not Note.objects.exists()


def test_a_key_of_255_visible_characters_is_accepted(auth_client):
    key = "".join(chr(c) for c in range(ord("!"), ord("~") + 1)) * 3
    key = key[:255]

    first = keyed(auth_client, "post", "/api/notes/", {"content": "long key"}, key=key)
    retry = keyed(auth_client, "post", "/api/notes/", {"content": "long key"}, key=key)

    assert first.status_code == 201
    assert_replayed(first, retry)


def test_keys_belong_to_their_user(auth_client, other_client):
    mine = keyed(auth_client, "post", "/api/notes/", {"content": "same key, two users"})
    theirs = keyed(other_client, "post", "/api/notes/", {"content": "same key, two users"})
    theirs_again = keyed(other_client, "post", "/api/notes/", {"content": "same key, two users"})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert theirs.json()["data"]["id"] != mine.json()["data"]["id"]
    assert theirs_again.content == theirs.content
    assert Note.objects.count() == 2


def test_a_failed_request_stores_nothing_so_a_retry_runs_anew(auth_client):
    refused = keyed(auth_client, "post", "/api/notes/", {"content": ""})
    missing = keyed(auth_client, "post", "/api/notes/424242/send/")

    fixed = keyed(auth_client, "post", "/api/notes/", {"content": "now valid"})

    assert (refused.status_code, missing.status_code, fixed.status_code) == (400, 404, 201)
    assert "Idempotent-Replayed" not in fixed
    assert Note.objects.get().content == "now valid"


def test_a_failed_precondition_stores_nothing(auth_client, note):
    stale = keyed(
        auth_client, "patch", f"/api/notes/{note.pk}/", {"content": "x"}, HTTP_IF_MATCH='"0-0"'
    )
    retry = keyed(auth_client, "patch", f"/api/notes/{note.pk}/", {"content": "x"})

    assert stale.status_code == 412
    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry


def hold_key(user, key):
    """Another session that holds the key, as a request still running would."""
    other = psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params())
    assert other.execute(LOCK_SQL, [user.pk, key]).fetchone()[0]
    return other


def test_a_key_still_running_is_a_409_with_retry_after(auth_client, user):
    with hold_key(user, KEY) as other:
        running = keyed(auth_client, "post", "/api/notes/", {"content": "wait"})
        other.rollback()
    after = keyed(auth_client, "post", "/api/notes/", {"content": "wait"})

    assert running.status_code == 409
    assert running.json()["error"]["code"] == "idempotency_key_in_progress"
    assert int(running["Retry-After"]) > 0
    assert after.status_code == 201
    assert Note.objects.count() == 1


def test_a_request_killed_mid_way_leaves_its_key_free(auth_client, user):
    other = hold_key(user, KEY)
    pid = other.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])

    response = keyed(auth_client, "post", "/api/notes/", {"content": "after the crash"})

    assert response.status_code == 201
    other.close()


def age_keys(hours):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => %s)", [hours]
        )


def test_a_key_older_than_24_hours_is_free_again(auth_client):
    keyed(auth_client, "post", "/api/notes/", {"content": "a day ago"})
    age_keys(25)

    again = keyed(auth_client, "post", "/api/notes/", {"content": "another day"})

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Note.objects.count() == 2
    assert IdempotencyKey.objects.get().status == 201


def test_a_key_younger_than_24_hours_still_replays(auth_client):
    first = keyed(auth_client, "post", "/api/notes/", {"content": "this morning"})
    age_keys(23)

    assert_replayed(first, keyed(auth_client, "post", "/api/notes/", {"content": "this morning"}))


def test_the_purge_command_deletes_expired_keys_only(auth_client, capsys):
    for i in range(3):
        keyed(auth_client, "post", "/api/notes/", {"content": f"old {i}"}, key=f"old-{i}")
    age_keys(25)
    keyed(auth_client, "post", "/api/notes/", {"content": "fresh"}, key="fresh")

    call_command("purge_idempotency_keys", "--batch", "2")

    # Storing "fresh" already deleted two expired keys lazily; the command, the rest.
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert "Deleted 1 expired" in capsys.readouterr().out


def test_storing_a_key_deletes_up_to_two_expired_ones(auth_client):
    for i in range(5):
        keyed(auth_client, "post", "/api/notes/", {"content": f"old {i}"}, key=f"old-{i}")
    age_keys(25)

    keyed(auth_client, "post", "/api/notes/", {"content": "new"}, key="new")

    assert IdempotencyKey.objects.count() == 4


@pytest.fixture
def finalized(monkeypatch):
    """The responses DRF's finalize_response is called with, in order."""
    calls = []
    finalize = APIView.finalize_response

    def counting(view, request, response, *args, **kwargs):
        calls.append(response)
        return finalize(view, request, response, *args, **kwargs)

    monkeypatch.setattr(APIView, "finalize_response", counting)
    return calls


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/api/notes/", {"content": "finalized once"}),
        ("put", "/api/notes/{id}/", {"content": "finalized once"}),
        ("delete", "/api/notes/{id}/", None),
        ("post", "/api/notes/{id}/send/", None),
    ],
)
def test_a_keyed_write_and_its_replay_are_each_finalized_once(
    auth_client, note, finalized, method, path, data
):
    first = keyed(auth_client, method, path.format(id=note.pk), data)
    assert len(finalized) == 1
    assert finalized[0] is first

    retry = keyed(auth_client, method, path.format(id=note.pk), data)
    assert len(finalized) == 2
    assert_replayed(first, retry)


def test_requests_without_a_key_store_nothing(auth_client, note):
    auth_client.post("/api/notes/", {"content": "plain"}, format="json")
    auth_client.post(f"/api/notes/{note.pk}/send/")

    assert not IdempotencyKey.objects.exists()


def test_reads_ignore_the_header(auth_client, note):
    response = auth_client.get(f"/api/notes/{note.pk}/", HTTP_IDEMPOTENCY_KEY="not a valid key")

    assert response.status_code == 200
    assert not IdempotencyKey.objects.exists()


def test_a_deleted_user_takes_their_keys_along(auth_client, user):
    keyed(auth_client, "post", "/api/notes/", {"content": "mine"})

    user.delete()

    assert not IdempotencyKey.objects.exists()


@pytest.fixture
def schema(api_client, db):
    return api_client.get("/api/schema/?format=json").json()


KEYED_OPERATIONS = [
    ("/api/notes/", "post", "201"),
    ("/api/notes/{id}/", "put", "200"),
    ("/api/notes/{id}/", "patch", "200"),
    ("/api/notes/{id}/", "delete", "204"),
    ("/api/notes/{id}/send/", "post", "200"),
    ("/api/notes/send-next/", "post", "200"),
]


@pytest.mark.parametrize(("path", "method", "success"), KEYED_OPERATIONS)
def test_the_document_describes_the_key_on_every_write(schema, path, method, success):
    operation = schema["paths"][path][method]

    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header"
    assert header["schema"]["pattern"] == "^[!-~]{1,255}$"
    assert "Idempotent-Replayed" in operation["responses"][success]["headers"]
    for status in ("409", "422"):
        body = operation["responses"][status]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}
    assert "Retry-After" in operation["responses"]["409"]["headers"]


@pytest.mark.parametrize(("path", "method"), [("/api/notes/", "get"), ("/api/notes/{id}/", "get")])
def test_the_document_offers_no_key_on_reads(schema, path, method):
    operation = schema["paths"][path][method]

    assert all(p["name"] != "Idempotency-Key" for p in operation.get("parameters", []))
    assert "422" not in operation["responses"]
