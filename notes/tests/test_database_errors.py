"""Contract, Errors: deadlocks, serialization failures, lock and statement timeouts: not outages."""

import logging
import threading
import time

import psycopg
import pytest
import requests
from django.db import OperationalError, connection, transaction

from conftest import gunicorn, server_params
from notes.api.errors import envelope_exception_handler
from notes.models import Note

pytestmark = pytest.mark.django_db(transaction=True)


def other_session():
    return psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params())


def error_of(steps):
    """The OperationalError PostgreSQL raises for these steps, run by Django in a transaction."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            steps(cursor)
    except OperationalError as exc:
        return exc
    return pytest.fail("PostgreSQL raised nothing.")


def raised_by(statements):
    return error_of(lambda cursor: [cursor.execute(sql) for sql in statements])


def answer(exc):
    return envelope_exception_handler(exc, {"view": None})


def assert_answers(response, status, code):
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert int(response["Retry-After"]) >= 1


def test_a_statement_timeout_is_a_503_query_timeout():
    exc = raised_by(["SET LOCAL statement_timeout = 10", "SELECT pg_sleep(5)"])

    assert_answers(answer(exc), 503, "query_timeout")


def test_a_lock_timeout_is_a_409_lock_timeout():
    with other_session() as holder:
        holder.execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
        exc = raised_by(["SET LOCAL lock_timeout = 10", "SELECT count(*) FROM notes"])

    assert_answers(answer(exc), 409, "lock_timeout")


def test_a_serialization_failure_is_a_409_write_conflict(note):
    def steps(cursor):
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT content FROM notes WHERE id = %s", [note.pk])
        with other_session() as other:
            other.execute("UPDATE notes SET content = 'theirs' WHERE id = %s", [note.pk])
        cursor.execute("UPDATE notes SET content = 'mine' WHERE id = %s", [note.pk])

    assert_answers(answer(error_of(steps)), 409, "write_conflict")


def test_a_deadlock_is_a_409_write_conflict(make_notes):
    first, second = make_notes(2)
    other = other_session()
    # The other session waits longer before looking for a deadlock, so this one is the victim.
    other.execute("SET deadlock_timeout = '10s'")
    other.execute("UPDATE notes SET times_sent = 1 WHERE id = %s", [second.pk])
    crossing = threading.Thread(
        target=other.execute, args=("UPDATE notes SET times_sent = 1 WHERE id = %s", [first.pk])
    )

    def steps(cursor):
        cursor.execute("SET LOCAL deadlock_timeout = '100ms'")
        cursor.execute("UPDATE notes SET times_sent = 2 WHERE id = %s", [first.pk])
        crossing.start()
        until_waiting(other.info.backend_pid)
        cursor.execute("UPDATE notes SET times_sent = 2 WHERE id = %s", [second.pk])

    exc = error_of(steps)
    crossing.join()
    other.commit()
    other.close()

    assert exc.__cause__.sqlstate == "40P01"
    assert_answers(answer(exc), 409, "write_conflict")


def until_waiting(pid):
    with other_session() as observer:
        while not observer.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()[0]:
            observer.commit()
            time.sleep(0.01)


def test_they_are_logged_with_their_traceback(caplog):
    exc = raised_by(["SET LOCAL statement_timeout = 10", "SELECT pg_sleep(5)"])

    with caplog.at_level(logging.WARNING, logger="notes.api.database_errors"):
        answer(exc)

    (record,) = caplog.records
    assert "query_timeout" in record.getMessage()
    assert "57014" in record.getMessage()
    assert record.exc_info[1] is exc


def test_a_connection_failure_is_still_a_503_database_unavailable():
    unreachable = connection.copy()
    unreachable.settings_dict = {**unreachable.settings_dict, "PORT": "1", "HOST": "127.0.0.1"}
    with pytest.raises(OperationalError) as raised:
        unreachable.ensure_connection()

    response = answer(raised.value)

    assert response.status_code == 503
    assert response.data["error"]["code"] == "database_unavailable"


@pytest.fixture
def held_note(note):
    """A note whose row another transaction holds locked."""
    with other_session() as holder:
        holder.execute("SELECT * FROM notes WHERE id = %s FOR UPDATE", [note.pk])
        yield note


def test_under_gunicorn_an_edit_of_a_locked_note_is_a_409(tmp_path, token, held_note):
    timeouts = {"DATABASE_LOCK_TIMEOUT": "200", "DATABASE_STATEMENT_TIMEOUT": "5000"}
    with gunicorn(tmp_path, WEB_CONCURRENCY="1", **timeouts) as (url, _, _):
        response = requests.patch(
            f"{url}/api/notes/{held_note.pk}/",
            json={"content": "while locked"},
            headers={"Authorization": f"Token {token.key}"},
            timeout=20,
        )

    assert_answers_http(response, 409, "lock_timeout")
    assert Note.objects.get().content == held_note.content


def test_under_gunicorn_a_statement_past_its_timeout_is_a_503(tmp_path, token, held_note):
    timeouts = {"DATABASE_LOCK_TIMEOUT": "", "DATABASE_STATEMENT_TIMEOUT": "200"}
    with gunicorn(tmp_path, WEB_CONCURRENCY="1", **timeouts) as (url, _, _):
        response = requests.post(
            f"{url}/api/notes/{held_note.pk}/send/",
            headers={"Authorization": f"Token {token.key}"},
            timeout=20,
        )

    assert_answers_http(response, 503, "query_timeout")
    assert Note.objects.get().times_sent == 0


def assert_answers_http(response, status, code):
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) >= 1
