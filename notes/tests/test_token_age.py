"""Contract, Who may do what: a token older than TOKEN_MAX_AGE seconds is refused (token_expired).

Unset, tokens do not age. The age is checked on every request, so a token
remembered by a worker's cache is refused as soon as it is too old.
`rotate_token` gives a user a new key and the old one is refused.
"""

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import gunicorn
from harness.server import workers_that_answered
from harness.wait import until
from notes.api.authentication import token_cache
from notes.models import Note
from notes.tests.test_commands import manage
from notes.tests.test_configuration import STRONG_KEY, django_shell
from notes.tokens.keys import key_digest
from notes.tokens.models import Token

DAY = 24 * 60 * 60


@pytest.fixture(autouse=True)
def empty_cache():
    token_cache.entries.clear()


def made_ago(token, seconds):
    """The token as if created `seconds` ago."""
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(seconds=seconds))


def read(client, key, note):
    return client.get(f"/api/notes/{note.pk}/", HTTP_AUTHORIZATION=f"Token {key}")


def write(client, key, note=None):
    return client.post("/api/notes/", {"content": "new"}, HTTP_AUTHORIZATION=f"Token {key}")


def assert_expired(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "token_expired"


@pytest.mark.django_db
def test_tokens_do_not_age_while_token_max_age_is_unset(api_client, token, note, settings):
    settings.TOKEN_MAX_AGE = None
    made_ago(token, 10 * 365 * DAY)

    assert read(api_client, token.key, note).status_code == 200
    assert write(api_client, token.key, note).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("request_", [read, write], ids=["read", "write"])
def test_an_older_token_is_refused_with_token_expired(api_client, token, note, settings, request_):
    settings.TOKEN_MAX_AGE = DAY
    made_ago(token, DAY + 1)

    assert_expired(request_(api_client, token.key, note))
    assert Note.objects.count() == 1


@pytest.mark.django_db
def test_a_younger_token_still_works(api_client, token, note, settings):
    settings.TOKEN_MAX_AGE = DAY
    made_ago(token, DAY - 60)

    assert read(api_client, token.key, note).status_code == 200


@pytest.mark.django_db
def test_a_remembered_token_is_refused_on_the_hit_that_finds_it_too_old(
    api_client, token, note, settings
):
    settings.TOKEN_MAX_AGE = DAY
    made_ago(token, DAY - 60)
    assert read(api_client, token.key, note).status_code == 200

    # A minute later, as far as the limit is concerned.
    settings.TOKEN_MAX_AGE = DAY - 120
    with CaptureQueriesContext(connection) as queries:
        response = read(api_client, token.key, note)

    assert_expired(response)
    assert len(queries) == 0  # answered from the cache, which kept the creation time


def test_token_max_age_comes_from_the_environment():
    code = "print(settings.TOKEN_MAX_AGE)"

    result = django_shell(code, SECRET_KEY=STRONG_KEY, TOKEN_MAX_AGE="86400")
    unset = django_shell(code, SECRET_KEY=STRONG_KEY)
    refused = django_shell(code, SECRET_KEY=STRONG_KEY, TOKEN_MAX_AGE="0")

    assert result.stdout.strip() == "86400", result.stderr
    assert unset.stdout.strip() == "None", unset.stderr
    assert refused.returncode != 0
    assert "TOKEN_MAX_AGE" in refused.stderr


def rotate(username):
    out = io.StringIO()
    call_command("rotate_token", username, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_rotate_token_prints_a_new_key_and_the_old_one_is_refused_at_once(
    api_client, user, token, note
):
    assert read(api_client, token.key, note).status_code == 200  # now remembered

    new_key = rotate("alice")

    assert new_key != token.key
    assert Token.objects.get(user=user).digest == key_digest(new_key)
    assert read(api_client, token.key, note).status_code == 401
    assert read(api_client, new_key, note).status_code == 200


@pytest.mark.django_db
def test_a_rotated_token_starts_a_new_age(api_client, token, note, settings):
    settings.TOKEN_MAX_AGE = DAY
    made_ago(token, DAY + 1)
    assert_expired(read(api_client, token.key, note))

    assert read(api_client, rotate("alice"), note).status_code == 200


@pytest.mark.django_db
def test_rotate_token_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="nobody"):
        rotate("nobody")


# Under gunicorn ---------------------------------------------------------------


def get(url, key, request_id=None):
    """A read on a new connection, so any worker may answer it."""
    headers = {
        "Authorization": f"Token {key}",
        **({"X-Request-ID": request_id} if request_id else {}),
    }
    return requests.get(f"{url}/api/notes/", headers=headers)


def workers_answering_200(url, log, key, workers):
    """Reads of `key`, eight at a time on new connections, until `workers` workers have each
    answered one with a 200 (or 20 rounds); the pids of those that did."""
    answered = set()
    for batch in range(20):
        ids = [f"warm-{batch}-{i}-{uuid.uuid4().hex}" for i in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = dict(
                zip(ids, pool.map(lambda i: get(url, key, i).status_code, ids), strict=True)
            )
        pids = workers_that_answered(log, ids)
        answered |= {pids[i] for i, status in statuses.items() if status == 200}
        if len(answered) == workers:
            break
    return answered


def test_a_token_cached_by_every_worker_is_refused_once_it_ages(transactional_db, token, tmp_path):
    """Catches a cache hit that skips the age check: the workers then answer 200 for as long
    as they remember the token (600 s here), long past its age."""
    max_age, left = 3600, 5
    # Workers would remember the token far longer than it has left to live.
    settings = {"WEB_CONCURRENCY": "2", "TOKEN_MAX_AGE": str(max_age), "TOKEN_CACHE_SECONDS": "600"}
    with gunicorn(tmp_path, LOG_FORMAT="json", **settings) as (url, _, log):
        made_ago(token, max_age - left)
        # Every worker holds the token while it is still young enough.
        assert len(workers_answering_200(url, log, token.key, workers=2)) == 2
        assert until(lambda: get(url, token.key).status_code == 401, timeout=left + 60)
        later = [get(url, token.key) for _ in range(10)]
        headers = {"Authorization": f"Token {token.key}"}
        written = requests.post(f"{url}/api/notes/", json={"content": "x"}, headers=headers)

    for refused in [*later, written]:
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Token"
        assert refused.json()["error"]["code"] == "token_expired"


def test_rotate_token_is_refused_by_running_workers_within_the_cache_bound(
    transactional_db, token, tmp_path
):
    """Catches workers that keep a rotated key past TOKEN_CACHE_SECONDS (an entry that never
    expires, or lives a thousand times the bound): the old key is then still answered."""
    bound = 2
    settings = {"WEB_CONCURRENCY": "2", "TOKEN_CACHE_SECONDS": str(bound)}
    with gunicorn(tmp_path, **settings) as (url, _, _):
        assert [get(url, token.key).status_code for _ in range(10)] == [200] * 10

        rotated = manage("rotate_token", "alice", database=connection.settings_dict["NAME"])
        new_key = rotated.stdout.strip()
        assert get(url, new_key).status_code == 200
        # Until every worker refuses it: six refusals in a row on new connections.
        refused = until(
            lambda: all(get(url, token.key).status_code == 401 for _ in range(6)),
            timeout=bound + 60,
        )

    assert refused
    assert rotated.returncode == 0, rotated.stderr
    assert len(new_key) == 54
    assert new_key.startswith("notes_")
