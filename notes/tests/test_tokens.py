"""Contract, Who may do what: the service stores only a digest of each token key, never the key.

A copy of the database gives no usable token; keys begin with `notes_`;
tokens made before this rule (DRF's plain keys) keep working; a user may hold
several named tokens, each revocable alone; the admin never shows a key.
"""

import io
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import server_params
from notes.tokens.keys import key_digest
from notes.tokens.models import Token

LEGACY_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex digits, as DRF made them


def reads(client, key):
    return client.get("/api/notes/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def create_token(username, *args):
    out = io.StringIO()
    call_command("drf_create_token", username, *args, stdout=out)
    return out.getvalue().split()[2]


def with_legacy_keys(user):
    """The database as it was under DRF's authtoken: its table, a key in plain text; migrated."""
    call_command("migrate", "tokens", "zero", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY,"
            " created timestamptz NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [LEGACY_KEY, user.pk])
    call_command("migrate", "tokens", verbosity=0)


@pytest.mark.django_db
def test_the_migration_turns_every_existing_key_into_its_digest(api_client, user):
    with_legacy_keys(user)

    migrated = Token.objects.get(user=user)
    assert migrated.digest == key_digest(LEGACY_KEY)
    assert migrated.hint == "…4567"
    assert "authtoken_token" not in connection.introspection.table_names()
    assert reads(api_client, LEGACY_KEY) == 200
    assert reads(api_client, LEGACY_KEY[:-1] + "8") == 401


def test_a_dump_of_the_database_holds_no_usable_token(transactional_db, api_client, user):
    with_legacy_keys(user)
    new_key = create_token("alice")
    assert reads(api_client, new_key) == reads(api_client, LEGACY_KEY) == 200
    db = server_params()
    where = ["-h", db["host"], "-p", str(db["port"]), "-U", db["user"]]
    dump = subprocess.run(
        ["pg_dump", *where, connection.settings_dict["NAME"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert key_digest(new_key) in dump  # the tokens are in it, as digests
    assert new_key not in dump
    assert new_key.removeprefix("notes_")[:-4] not in dump
    assert LEGACY_KEY[:-4] not in dump


@pytest.mark.django_db
def test_keys_carry_the_prefix_and_are_shown_only_when_made(user):
    key = create_token("alice")

    token = Token.objects.get(user=user)
    assert key.startswith("notes_")
    assert len(key) == len("notes_") + 48
    assert token.key is None  # not stored, so not read back
    assert token.hint == f"notes_…{key[-4:]}"
    assert {str(value) for value in Token.objects.values_list().get()}.isdisjoint({key})


@pytest.mark.django_db
def test_a_user_holds_several_named_tokens_each_revocable_alone(api_client, user):
    laptop = create_token("alice", "--name", "laptop")
    backup = create_token("alice", "--name", "backup job")
    assert reads(api_client, laptop) == reads(api_client, backup) == 200

    Token.objects.get(name="laptop").delete()

    assert reads(api_client, laptop) == 401
    assert reads(api_client, backup) == 200
    # -r revokes the user's other tokens.
    fresh = create_token("alice", "-r")
    assert reads(api_client, backup) == 401
    assert reads(api_client, fresh) == 200


@pytest.mark.django_db
def test_a_tokens_last_use_is_recorded_to_the_minute(api_client, token):
    assert Token.objects.get().last_used is None

    assert reads(api_client, token.key) == 200

    used = Token.objects.get().last_used
    assert used is not None
    assert used <= timezone.now()


@pytest.mark.django_db
def test_the_admin_lists_a_tokens_hint_user_and_uses_never_its_key(client, staff_user, token):
    client.force_login(staff_user)
    listing = client.get("/admin/tokens/token/").content.decode()
    change = client.get(f"/admin/tokens/token/{token.pk}/change/").content.decode()

    assert token.hint in listing
    assert "alice" in listing
    assert "Last use" in listing
    for page in (listing, change):
        assert token.key not in page
        assert token.digest not in page
    assert client.get("/admin/tokens/token/add/").status_code == 403


def test_drf_create_token_refuses_an_unknown_user(db):
    with pytest.raises(Exception, match="nobody"):
        create_token("nobody")
    assert not get_user_model().objects.exists()
