"""Contract, Errors: deadlocks, serialization failures, lock and statement timeouts: not outages."""

import logging
import socket
import struct
import threading
import time

import psycopg
import pytest
import requests
from django.db import InternalError, OperationalError, connection, transaction

from conftest import gunicorn, server_params
from notes.api.errors import envelope_exception_handler
from notes.models import Note

pytestmark = pytest.mark.django_db(transaction=True)


def other_session():
    return psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params())


def error_of(steps, kind=OperationalError):
    """The error (of `kind`) PostgreSQL raises for these steps, run by Django in a transaction."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            steps(cursor)
    except kind as exc:
        return exc
    return pytest.fail("PostgreSQL raised nothing.")


def raised_by(statements, kind=OperationalError):
    return error_of(lambda cursor: [cursor.execute(sql) for sql in statements], kind)


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


def test_a_write_that_reaches_a_server_in_recovery_is_a_503_database_unavailable():
    # What a write meets on a member demoted a moment ago, before the balancer's
    # check has moved the primary's address: read_only_sql_transaction.
    statements = ["SET TRANSACTION READ ONLY", "INSERT INTO notes (content) VALUES ('replica')"]
    exc = raised_by(statements, InternalError)

    assert exc.__cause__.sqlstate == "25006"
    assert_answers(answer(exc), 503, "database_unavailable")


def message(kind, payload=b""):
    """One message of PostgreSQL's wire protocol."""
    return kind + struct.pack("!I", len(payload) + 4) + payload


def error(severity, text):
    return message(b"E", b"S" + severity + b"\0C08P01\0M" + text + b"\0\0")


@pytest.fixture
def pooler_losing_its_server():
    """A server that lets a client in, then answers its first command with two errors,
    as PgBouncer did when its server (the primary) went away during a switchover."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        client, _ = listener.accept()
        with client:
            (size,) = struct.unpack("!I", client.recv(4))
            client.recv(size - 4)  # the startup packet
            ready = message(b"Z", b"I")
            client.sendall(message(b"R", struct.pack("!I", 0)) + ready)
            (size,) = struct.unpack("!I", client.recv(5)[1:])
            client.recv(size - 4)  # BEGIN
            client.sendall(
                error(b"ERROR", b"server login has been failing, try again later")
                + error(b"FATAL", b"server conn crashed?")
            )

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield listener.getsockname()[1]
    server.join(5)
    listener.close()


def test_a_driver_error_about_the_servers_answers_is_a_503_database_unavailable(
    pooler_losing_its_server,
):
    address = {"host": "127.0.0.1", "port": pooler_losing_its_server, "sslmode": "disable"}
    with (  # Django translates the driver's error as it leaves its wrapper.
        pytest.raises(InternalError) as raised,
        connection.wrap_database_errors,
        psycopg.connect(**address, gssencmode="disable", user="notes", dbname="notes") as conn,
    ):
        conn.execute("SELECT 1")  # BEGIN first: the connection is not in autocommit

    assert "received 2 results from command 'BEGIN'" in str(raised.value)
    assert raised.value.__cause__.sqlstate is None  # the driver's, not the server's
    assert_answers(answer(raised.value), 503, "database_unavailable")


def test_other_invalid_transaction_states_stay_unexpected():
    exc = raised_by(["SELECT 1", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"], InternalError)

    assert exc.__cause__.sqlstate == "25001"  # active_sql_transaction
    assert answer(exc).status_code == 500


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


def test_a_connection_whose_set_up_fails_is_closed_not_reused_half_set_up(monkeypatch):
    """Its server lost during the set-up (a failover): left open, the connection would later
    prepare statements through a pooler, which answers another client's of the same name
    with a 500 (a ProgrammingError, not an outage)."""
    fresh = connection.copy()

    def server_lost(self, *args, **kwargs):
        raise psycopg.OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(psycopg.Connection, "cursor", server_lost)
    with pytest.raises(OperationalError):
        fresh.ensure_connection()
    monkeypatch.undo()

    assert fresh.connection.closed
    assert fresh.connection.prepare_threshold is None
    assert not fresh.is_usable()
    fresh.close()
