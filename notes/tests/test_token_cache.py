"""Contract, Who may do what: a token's user is read in one join, remembered briefly.

TOKEN_CACHE_SECONDS bounds how long a deleted token or deactivated user keeps
working in other processes; the process that made the change forgets at once.
"""

import psycopg
import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import gunicorn, server_params
from harness.wait import until
from notes.api.authentication import token_cache


@pytest.fixture(autouse=True)
def empty_cache():
    token_cache.entries.clear()


def get_with(client, token, note):
    return client.get(f"/api/notes/{note.pk}/", HTTP_AUTHORIZATION=f"Token {token.key}")


def delete_elsewhere(token):
    """Delete the token as another process would: no signal reaches this one."""
    with psycopg.connect(dbname=connection.settings_dict["NAME"], **server_params()) as other:
        other.execute("DELETE FROM notes_token WHERE id = %s", [token.pk])


@pytest.mark.django_db
def test_a_token_costs_one_query_then_none_while_remembered(api_client, token, note):
    with CaptureQueriesContext(connection) as first:
        assert get_with(api_client, token, note).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert get_with(api_client, token, note).status_code == 200

    # The token's user in one join, its first use recorded, and the note; then the note alone.
    assert len(first) == 3
    assert "notes_token" in first[0]["sql"]
    assert first[1]["sql"].lstrip().startswith("WITH local_commit")
    assert len(second) == 1


@pytest.mark.django_db
def test_a_token_deleted_in_this_process_stops_working_at_once(api_client, token, note):
    assert get_with(api_client, token, note).status_code == 200

    token.delete()

    assert get_with(api_client, token, note).status_code == 401


@pytest.mark.django_db
def test_a_user_deactivated_in_this_process_is_refused_at_once(api_client, user, token, note):
    assert get_with(api_client, token, note).status_code == 200

    user.is_active = False
    user.save()

    assert get_with(api_client, token, note).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_without_the_cache_a_token_deleted_elsewhere_stops_at_once(
    api_client, token, note, settings
):
    settings.TOKEN_CACHE_SECONDS = 0
    assert get_with(api_client, token, note).status_code == 200

    delete_elsewhere(token)

    assert get_with(api_client, token, note).status_code == 401


def test_other_processes_forget_a_deleted_token_within_the_bound(transactional_db, token, tmp_path):
    """Catches a worker that keeps a deleted token past TOKEN_CACHE_SECONDS (an entry that
    never expires, or lives a thousand times the bound): the token then keeps working.

    That the worker remembers at all is test_a_token_costs_one_query_then_none_while_remembered's.
    """
    bound = 3
    settings = {"WEB_CONCURRENCY": "1", "TOKEN_CACHE_SECONDS": str(bound)}
    with gunicorn(tmp_path, **settings) as (url, _, _):
        headers = {"Authorization": f"Token {token.key}"}
        assert requests.post(f"{url}/api/notes/", json={"content": "a"}, headers=headers).ok

        delete_elsewhere(token)
        # Refused once the worker's entry runs out: well within this wait, whatever the load.
        forgotten = until(
            lambda: requests.get(f"{url}/api/notes/", headers=headers).status_code == 401,
            timeout=bound + 60,
        )

    assert forgotten
