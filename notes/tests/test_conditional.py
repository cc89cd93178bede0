"""Contract, Conditional requests: strong ETags, 304 on If-None-Match, 412 on a stale If-Match."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from notes import services
from notes.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture
def etag(api_client, note):
    return api_client.get(f"/api/notes/{note.pk}/")["ETag"]


def test_single_note_responses_carry_a_strong_etag(auth_client, note, etag):
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert auth_client.post(f"/api/notes/{note.pk}/send/")["ETag"] not in (None, etag)
    created = auth_client.post("/api/notes/", {"content": "new"})
    assert created["ETag"] == auth_client.get(created["Location"])["ETag"]


def test_the_etag_changes_with_every_write_and_only_then(auth_client, note, etag):
    assert auth_client.get(f"/api/notes/{note.pk}/")["ETag"] == etag

    changed = auth_client.patch(f"/api/notes/{note.pk}/", {"content": "Buy more milk"})

    assert changed["ETag"] != etag
    assert auth_client.get(f"/api/notes/{note.pk}/")["ETag"] == changed["ETag"]


@pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_answers_304_with_no_body(api_client, note, etag, header):
    response = api_client.get(f"/api/notes/{note.pk}/", HTTP_IF_NONE_MATCH=header.format(etag=etag))

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_a_stale_if_none_match_answers_200(auth_client, note, etag):
    auth_client.post(f"/api/notes/{note.pk}/send/")

    response = auth_client.get(f"/api/notes/{note.pk}/", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["data"]["times_sent"] == 1


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_current_if_match_lets_the_change_through(auth_client, note, etag, method):
    response = getattr(auth_client, method)(
        f"/api/notes/{note.pk}/", {"content": "changed"}, HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert Note.objects.get(pk=note.pk).content == "changed"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
@pytest.mark.parametrize("stale", ["old", "weak", "garbage", "other note"])
def test_a_stale_if_match_answers_412_and_changes_nothing(auth_client, note, etag, method, stale):
    header = {
        "old": etag,
        "weak": f"W/{etag}",
        "garbage": '"zz-top"',
        "other note": etag.replace(f'"{note.pk}-', f'"{note.pk + 1}-'),
    }[stale]
    if stale == "old":
        auth_client.post(f"/api/notes/{note.pk}/send/")
    before = Note.objects.get(pk=note.pk)

    response = getattr(auth_client, method)(
        f"/api/notes/{note.pk}/", {"content": "lost update"}, HTTP_IF_MATCH=header
    )

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "precondition_failed"
    after = Note.objects.get(pk=note.pk)
    assert (after.content, after.updated_at) == (before.content, before.updated_at)


def test_the_etag_does_not_depend_on_how_timestamps_are_rendered(auth_client, note, etag, settings):
    # The ETag is made from the note itself, not parsed back from its rendered updated_at.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DATETIME_FORMAT": "%Y-%m-%d %H:%M"}

    read = auth_client.get(f"/api/notes/{note.pk}/")
    assert len(read.json()["data"]["updated_at"]) == len("2026-01-01 12:00")
    assert read["ETag"] == etag
    assert auth_client.get(f"/api/notes/{note.pk}/", HTTP_IF_NONE_MATCH=etag).status_code == 304

    changed = auth_client.put(f"/api/notes/{note.pk}/", {"content": "changed"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200
    stale = auth_client.put(f"/api/notes/{note.pk}/", {"content": "lost"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


def test_if_match_star_matches_any_current_version(auth_client, note):
    response = auth_client.delete(f"/api/notes/{note.pk}/", HTTP_IF_MATCH="*")

    assert response.status_code == 204


def test_an_edit_never_undoes_a_concurrent_send(note):
    stale = Note.objects.get(pk=note.pk)
    services.send_note(note_id=note.pk)

    services.update_note(note_id=stale.pk, content="edited from a stale copy")

    assert Note.objects.get(pk=note.pk).times_sent == 1


def test_an_edit_moves_updated_at_to_the_stored_value(note):
    edited = services.update_note(note_id=note.pk, content="edited")

    stored = Note.objects.get(pk=note.pk)
    assert (stored.content, stored.updated_at) == ("edited", edited.updated_at)
    assert edited.updated_at > note.created_at


def test_an_edit_of_a_deleted_note_writes_nothing_and_says_so(note):
    Note.objects.filter(pk=note.pk).delete()

    assert services.update_note(note_id=note.pk, content="too late") is None
    assert not Note.objects.exists()


def test_of_20_clients_patching_with_one_etag_exactly_one_wins(
    gunicorn_url, transactional_db, token
):
    note = Note.objects.create(content="contested")
    url = f"{gunicorn_url}/api/notes/{note.pk}/"
    etag = requests.get(url).headers["ETag"]

    def patch(i):
        return requests.patch(
            url,
            json={"content": f"client {i}"},
            headers={"Authorization": f"Token {token.key}", "If-Match": etag},
        )

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(patch, range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    winner = next(r for r in responses if r.status_code == 200).json()["data"]["content"]
    assert Note.objects.get(pk=note.pk).content == winner
