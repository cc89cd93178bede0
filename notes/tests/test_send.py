"""Contract, Endpoints: send and send-next count atomically, least-sent and oldest first."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import server_params
from notes import services
from notes.models import Note
from notes.sql import SEND_NEXT


def test_send_adds_one_and_moves_updated_at(auth_client, note):
    response = auth_client.post(f"/api/notes/{note.pk}/send/")

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["times_sent"] == 1
    note.refresh_from_db()
    assert note.times_sent == 1
    assert note.updated_at > note.created_at


def test_send_ignores_any_body(auth_client, note):
    response = auth_client.post(f"/api/notes/{note.pk}/send", {"times_sent": 50})

    assert response.json()["data"]["times_sent"] == 1


def test_send_next_with_every_least_sent_note_held_elsewhere_is_a_503(auth_client, monkeypatch):
    # services.NoteBusy, answered by the exception handler (notes/api/errors.py).
    def busy():
        raise services.NoteBusy()

    monkeypatch.setattr(services, "send_next_note", busy)

    response = auth_client.post("/api/notes/send-next/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert response["Retry-After"] == "1"


@pytest.mark.django_db
@pytest.mark.parametrize("note_id", ["424242", "99999999999999999999999"])
def test_send_to_an_unknown_note_is_a_404(auth_client, note_id):
    response = auth_client.post(f"/api/notes/{note_id}/send/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_send_next_takes_the_least_sent_then_the_oldest_then_the_lowest_id(auth_client, db):
    now = timezone.now()
    sent_twice = Note.objects.create(content="sent twice")
    newer = Note.objects.create(content="newer")
    older = Note.objects.create(content="older")
    tied_a = Note.objects.create(content="tied a")
    tied_b = Note.objects.create(content="tied b")
    Note.objects.filter(pk=sent_twice.pk).update(times_sent=2, created_at=now - timedelta(days=9))
    Note.objects.filter(pk=newer.pk).update(created_at=now)
    Note.objects.filter(pk=older.pk).update(created_at=now - timedelta(days=1))
    Note.objects.filter(pk__in=[tied_a.pk, tied_b.pk]).update(created_at=now - timedelta(hours=1))

    order = [auth_client.post("/api/notes/send-next/").json()["data"]["id"] for _ in range(6)]

    assert order == [older.pk, tied_a.pk, tied_b.pk, newer.pk, older.pk, tied_a.pk]


@pytest.mark.django_db
def test_send_next_without_notes_is_a_404(auth_client):
    response = auth_client.post("/api/notes/send-next")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
def test_send_next_passes_over_a_note_another_transaction_holds(make_notes):
    first, second = make_notes(2)
    with psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params()) as other:
        held = other.execute(SEND_NEXT).fetchone()  # uncommitted: the row stays locked
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait would fail, not hang

        taken = services.send_next_note()

        assert held[0] == first.id
        assert taken.id == second.id
        other.commit()
    assert sorted(Note.objects.values_list("times_sent", flat=True)) == [1, 1]


def concurrently(calls, workers=32):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture
def live_token(transactional_db, token):
    return {"Authorization": f"Token {token.key}"}


def test_100_concurrent_sends_add_exactly_100(gunicorn_url, live_token, note):
    url = f"{gunicorn_url}/api/notes/{note.pk}/send/"

    responses = concurrently([lambda: requests.post(url, headers=live_token)] * 100)

    assert [r.status_code for r in responses] == [200] * 100
    counts = sorted(r.json()["data"]["times_sent"] for r in responses)
    assert counts == list(range(1, 101))
    note.refresh_from_db()
    assert note.times_sent == 100


def test_rounds_of_concurrent_send_next_keep_the_spread_within_one(
    gunicorn_url, live_token, make_notes
):
    make_notes(12)
    url = f"{gunicorn_url}/api/notes/send-next/"

    for round_size in (5, 7, 12, 3, 9):
        responses = concurrently([lambda: requests.post(url, headers=live_token)] * round_size)
        assert {r.status_code for r in responses} == {200}
        counts = list(Note.objects.values_list("times_sent", flat=True))
        assert max(counts) - min(counts) <= 1, counts


def test_concurrent_send_next_never_hands_out_a_note_before_a_less_sent_one(
    gunicorn_url, live_token, make_notes
):
    notes = make_notes(5)
    url = f"{gunicorn_url}/api/notes/send-next/"

    responses = concurrently([lambda: requests.post(url, headers=live_token)] * 100)

    assert [r.status_code for r in responses] == [200] * 100
    sends = [r.json()["data"] for r in responses]
    # Each note is handed out exactly once per round: 20 rounds, 5 notes. (The
    # order within a round is not observable from outside: updated_at is when a
    # pick's statement started, and a statement that started later may lock its
    # note first. The passes-over and waits-for tests below fix that order.)
    assert sorted((s["id"], s["times_sent"]) for s in sends) == sorted(
        (n.id, k) for n in notes for k in range(1, 21)
    )


@pytest.mark.django_db(transaction=True)
def test_send_next_waits_for_a_held_least_sent_note_instead_of_spinning(make_notes):
    least, _ = make_notes(2)
    Note.objects.exclude(pk=least.pk).update(times_sent=1)
    with psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params()) as other:
        other.execute("SELECT 1 FROM notes WHERE id = %s FOR UPDATE", [least.pk])
        threading.Timer(0.5, other.commit).start()

        with CaptureQueriesContext(connection) as queries:
            taken = services.send_next_note()

    # The skipping try misses, then one waiting try blocks until the holder
    # commits and takes the least-sent note: a few statements, not a loop.
    assert taken.id == least.pk
    assert len(queries) <= 4
