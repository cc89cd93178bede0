"""Contract, Endpoints: send and send-next count atomically, least-sent and oldest first."""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
import requests
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import server_params
from harness.wait import backend_pid, blocked_by, until
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


def connect():
    return psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params())


@contextmanager
def committed_once_waited_on(holder):
    """`holder`'s open transaction, committed from another thread as soon as PostgreSQL shows
    a session waiting on its locks (pg_stat_activity): no timer decides when."""
    pid, seen = backend_pid(holder), []

    def watch():
        with psycopg.connect(dbname=holder.info.dbname, **server_params(), autocommit=True) as w:
            seen.append(until(lambda: blocked_by(w, pid), timeout=30))
        holder.commit()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        watcher.join()
    assert seen == [True], "no session waited on the held rows"


@pytest.mark.django_db(transaction=True)
def test_send_next_with_every_least_sent_note_held_elsewhere_is_a_503(
    auth_client, make_notes, monkeypatch
):
    """Catches a first try that waits for held rows instead of skipping them (no SKIP LOCKED),
    and a waiting try that hands out a note another sent meanwhile: each answers 200."""
    make_notes(2)
    # Two tries: the skipping one, then one waiting try while another session sends the notes.
    monkeypatch.setattr(services, "SEND_NEXT_ATTEMPTS", 2)
    with connect() as other:
        held = [other.execute(SEND_NEXT).fetchone()[0] for _ in range(2)]  # both, uncommitted
        with committed_once_waited_on(other), ThreadPoolExecutor(1) as pool:
            response = pool.submit(in_a_thread, auth_client.post, "/api/notes/send-next/").result()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert response["Retry-After"] == "1"
    assert sorted(Note.objects.values_list("id", "times_sent")) == [(n, 1) for n in sorted(held)]


def in_a_thread(call, *args):
    try:
        return call(*args)
    finally:
        connections.close_all()  # this thread's own connection


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
    with connect() as other:
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


# Every send recorded by the database as it happens: the note's sends before it, and the
# fewest any other note had then (committed, or this transaction's own).
PICKS = """
CREATE TABLE test_send_picks (
    n bigserial PRIMARY KEY, note bigint, sent_before int, least_elsewhere int
);
CREATE FUNCTION test_record_pick() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_send_picks (note, sent_before, least_elsewhere)
    SELECT NEW.id, OLD.times_sent, min(times_sent) FROM notes WHERE id <> NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER test_record_pick AFTER UPDATE OF times_sent ON notes
    FOR EACH ROW EXECUTE FUNCTION test_record_pick();
"""
NO_PICKS = """
DROP TRIGGER IF EXISTS test_record_pick ON notes;
DROP FUNCTION IF EXISTS test_record_pick();
DROP TABLE IF EXISTS test_send_picks;
"""


@pytest.fixture
def picks(transactional_db):
    """The sends of the test, in the order the database made them."""
    with connect() as conn:
        conn.execute(NO_PICKS)
        conn.execute(PICKS)

    def made():
        with connect() as conn:
            return conn.execute(
                "SELECT note, sent_before, least_elsewhere FROM test_send_picks ORDER BY n"
            ).fetchall()

    yield made
    with connect() as conn:
        conn.execute(NO_PICKS)


def test_concurrent_send_next_never_hands_out_a_note_before_a_less_sent_one(
    gunicorn_url, live_token, make_notes, picks
):
    """Catches send-next without FOR UPDATE SKIP LOCKED, or without its re-check of the least
    count: a note is then sent while another has fewer sends, or twice at one count."""
    notes = make_notes(5)
    url = f"{gunicorn_url}/api/notes/send-next/"

    responses = concurrently([lambda: requests.post(url, headers=live_token)] * 100)

    assert [r.status_code for r in responses] == [200] * 100
    sends = [r.json()["data"] for r in responses]
    # No two callers were handed one note at one count: 20 rounds, each note once a round.
    assert sorted((s["id"], s["times_sent"]) for s in sends) == sorted(
        (n.id, k) for n in notes for k in range(1, 21)
    )
    # And as the database made each send, no other note had fewer sends than the one sent.
    made = picks()
    assert len(made) == 100
    assert [p for p in made if p[1] > p[2]] == []


@pytest.mark.django_db(transaction=True)
def test_send_next_waits_for_a_held_least_sent_note_instead_of_spinning(make_notes):
    """Catches a send-next that retries skipping held rows until its tries run out."""
    least, _ = make_notes(2)
    Note.objects.exclude(pk=least.pk).update(times_sent=1)
    with connect() as other:
        other.execute("SELECT 1 FROM notes WHERE id = %s FOR UPDATE", [least.pk])

        with committed_once_waited_on(other), CaptureQueriesContext(connection) as queries:
            taken = services.send_next_note()

    # The skipping try misses, then one waiting try blocks until the holder
    # commits and takes the least-sent note: a few statements, not a loop.
    assert taken.id == least.pk
    assert len(queries) <= 4
