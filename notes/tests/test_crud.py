"""Contract, Endpoints: create, read, replace, update and delete a note."""

from datetime import datetime

import psycopg
import pytest
from django.db import connection

from conftest import server_params
from notes import services
from notes.models import Note

pytestmark = pytest.mark.django_db


def parse_timestamp(value):
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def test_create_answers_201_with_the_note_and_its_location(auth_client):
    response = auth_client.post("/api/notes/", {"content": "Buy milk"})

    assert response.status_code == 201
    note = response.json()["data"]
    assert note["content"] == "Buy milk"
    assert note["times_sent"] == 0
    assert parse_timestamp(note["created_at"]) == parse_timestamp(note["updated_at"])
    assert response["Location"].endswith(f"/api/notes/{note['id']}")
    assert auth_client.get(response["Location"]).json()["data"] == note


def test_get_returns_the_note(api_client, note):
    response = api_client.get(f"/api/notes/{note.pk}/")

    data = response.json()["data"]
    assert response.status_code == 200
    assert set(data) == {"id", "content", "times_sent", "created_at", "updated_at"}
    assert (data["id"], data["content"], data["times_sent"]) == (note.pk, "Buy milk", 0)
    assert parse_timestamp(data["created_at"]) == note.created_at
    assert parse_timestamp(data["updated_at"]) == note.updated_at


@pytest.mark.parametrize(
    ("time_zone", "created_at", "updated_at"),
    [
        ("UTC", "2024-01-15T10:30:00.123456Z", "2024-07-01T08:00:00Z"),
        ("Europe/Paris", "2024-01-15T11:30:00.123456+01:00", "2024-07-01T10:00:00+02:00"),
    ],
)
def test_a_note_renders_in_the_time_zone_with_its_offset(
    api_client, dated_note, settings, time_zone, created_at, updated_at
):
    """Catches timestamps rendered in another zone than TIME_ZONE's (the first zone kept, or
    UTC always), without their offset or microseconds, and fields added, lost or retyped."""
    settings.TIME_ZONE = time_zone

    response = api_client.get(f"/api/notes/{dated_note.pk}/")

    assert response.json() == {
        "data": {
            "id": dated_note.pk,
            "content": "Buy milk",
            "times_sent": 0,
            "created_at": created_at,
            "updated_at": updated_at,
        }
    }


def test_a_note_url_ignores_list_parameters(api_client, note):
    response = api_client.get(f"/api/notes/{note.pk}/?search=nothing+matches&ordering=nonsense")

    assert response.status_code == 200
    assert response.json()["data"]["id"] == note.pk


def test_put_replaces_content_and_moves_updated_at_only(auth_client, note):
    before = auth_client.get(f"/api/notes/{note.pk}/").json()["data"]

    response = auth_client.put(f"/api/notes/{note.pk}/", {"content": "Buy oat milk"})

    after = response.json()["data"]
    assert response.status_code == 200
    assert after["content"] == "Buy oat milk"
    assert after["created_at"] == before["created_at"]
    assert parse_timestamp(after["updated_at"]) > parse_timestamp(before["updated_at"])
    assert Note.objects.get(pk=note.pk).content == "Buy oat milk"


def test_put_accepts_the_full_representation_and_ignores_read_only_fields(auth_client, note):
    body = auth_client.get(f"/api/notes/{note.pk}/").json()["data"]
    body.update(content="Edited", times_sent=99, id=12345, created_at="2000-01-01T00:00:00Z")

    response = auth_client.put(f"/api/notes/{note.pk}/", body)

    assert response.status_code == 200
    saved = Note.objects.get(pk=note.pk)
    assert (saved.content, saved.times_sent, saved.created_at) == ("Edited", 0, note.created_at)


def test_patch_changes_only_what_it_names(auth_client, note):
    response = auth_client.patch(f"/api/notes/{note.pk}", {"content": "  Buy bread  "})

    assert response.status_code == 200
    assert response.json()["data"]["content"] == "Buy bread"
    assert response.json()["data"]["times_sent"] == 0


def test_delete_answers_204_with_an_empty_body_then_the_note_is_gone(auth_client, note):
    response = auth_client.delete(f"/api/notes/{note.pk}/")

    assert response.status_code == 204
    assert response.content == b""
    assert auth_client.get(f"/api/notes/{note.pk}/").status_code == 404
    assert not Note.objects.filter(pk=note.pk).exists()


def test_a_row_inserted_by_plain_sql_gets_the_database_defaults(api_client):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO notes (content) VALUES ('from psql') RETURNING id")
        (note_id,) = cursor.fetchone()

    data = api_client.get(f"/api/notes/{note_id}/").json()["data"]

    assert data["times_sent"] == 0
    assert parse_timestamp(data["created_at"]) == parse_timestamp(data["updated_at"])


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("note_id", ["0", "987654", "-1", "abc", "1.5", "99999999999999999999999"])
def test_unknown_note_ids_answer_404(auth_client, method, note_id):
    response = getattr(auth_client, method)(f"/api/notes/{note_id}/", {"content": "x"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("if_match", [False, True])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_write_that_loses_a_race_with_a_delete_is_a_404(
    auth_client, note, monkeypatch, method, if_match
):
    # A write does not read its note first, so the race it can lose is a delete
    # committed elsewhere just before its one statement runs.
    service = "delete_note" if method == "delete" else "update_note"
    write = getattr(services, service)

    def deleted_elsewhere_first(**kwargs):
        with psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params()) as other:
            other.execute("DELETE FROM notes WHERE id = %s", [kwargs["note_id"]])
        return write(**kwargs)

    headers = (
        {"HTTP_IF_MATCH": auth_client.get(f"/api/notes/{note.pk}/")["ETag"]} if if_match else {}
    )
    monkeypatch.setattr(services, service, deleted_elsewhere_first)

    response = getattr(auth_client, method)(
        f"/api/notes/{note.pk}/", {"content": "too late"}, **headers
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
