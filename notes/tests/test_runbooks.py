"""Contract, Operating it: the runbooks in docs/ run as written, except blocks marked as on paper.

Every shell block of README.md and docs/ is marked (notes/tests/shell_blocks.py):
run by a test module, or on paper. The blocks marked for this module, the
operations and the logins-and-tokens runbooks, run here as an operator types
them: `python` is the virtualenv's, and the settings come from a deployment's
environment only (no `.env`), on a database prepared with what the runbook
assumes (alice has a token, login locks, idempotency keys, one expired).
"""

import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import TEST_REDIS_URL, live_database_url
from notes.idempotency.models import IdempotencyKey
from notes.models import Note
from notes.tests.shell_blocks import Run, every_block, marked_for, run
from notes.tests.test_configuration import STRONG_KEY
from notes.tests.test_logins import API_LOGIN, CLIENT, PASSWORD, guess, log_in, logged_in

THIS = "notes/tests/test_runbooks.py"
RUNNERS = {
    "notes/tests/test_readme.py",
    "notes/tests/test_backups.py",
    "notes/tests/test_cluster.py",
    THIS,
}
RUNBOOKS = ["docs/operations.md", "docs/logins-and-tokens.md"]
TOKEN_KEY = re.compile(r"^notes_[0-9a-f]{48}$")


def test_every_shell_block_is_run_by_a_test_or_marked_on_paper():
    blocks = every_block()

    assert len(blocks) >= 10
    for block in blocks:
        assert block.mark is not None, f"{block}: mark it run by a test, or on paper"
        assert block.mark in {"on paper", *RUNNERS}, f"{block}: {block.mark} runs no blocks"
        assert block.commands(), f"{block}: no command"
    assert {block.path for block in marked_for(THIS)} == set(RUNBOOKS)
    assert marked_for("notes/tests/test_readme.py")[0].path == "README.md"


def test_every_mark_on_paper_says_why():
    on_paper = [block for block in every_block() if block.mark == "on paper"]

    assert on_paper
    for block in on_paper:
        assert re.search(r"on paper \(.{10,}\)", block.marked or "", re.S), block


def runbook(path, tmp_path) -> Run:
    """The runbook's blocks as written, in a deployment's environment (no .env read)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DATABASE_URL": live_database_url(),
        "REDIS_URL": TEST_REDIS_URL,
        "SECRET_KEY": STRONG_KEY,
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    ran = run([block for block in marked_for(THIS) if block.path == path], env)
    assert ran.returncode == 0, ran.report()
    return ran


def lock(client, username, address):
    assert guess(client, username, 5, REMOTE_ADDR=address)[-1] == 429


def expired_and_fresh_keys(user):
    for key in ("expired", "fresh"):
        IdempotencyKey.objects.create(user=user, key=key, fingerprint=b"", status=201, body=b"")
    IdempotencyKey.objects.filter(key="expired").update(
        created_at=timezone.now() - timedelta(hours=25)
    )


def writes_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.post("/api/notes/", {"content": "a runbook's note"}, format="json").status_code


@pytest.mark.django_db(transaction=True)
def test_the_operations_runbook_runs_as_written(client, user, tmp_path):
    lock(client, "alice", CLIENT)
    expired_and_fresh_keys(user)

    ran = runbook("docs/operations.md", tmp_path)

    assert "Installed 28 object(s)" in ran.output_of("loaddata notes")
    assert "Seeded 0 note(s); 28 already present." in ran.output_of("python manage.py seed")
    assert "Added 1000 generated note(s)." in ran.output_of("seed --fake")
    assert Note.objects.count() == 28 + 1000
    assert "Superuser created successfully." in ran.output_of("createsuperuser")
    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_staff, admin.is_superuser, admin.has_usable_password()) == (True, True, True)
    assert_a_token_was_made_then_rotated(ran)
    assert ran.output_of("axes_reset_username alice").strip() == "1 attempts removed."
    assert log_in(client, "alice", PASSWORD, API_LOGIN, REMOTE_ADDR=CLIENT).status_code == 302
    assert (tmp_path / "static" / "staticfiles.json").is_file()
    assert "Deleted 1 expired" in ran.output_of("purge_idempotency_keys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def assert_a_token_was_made_then_rotated(ran):
    made = re.fullmatch(
        r"Generated token (\S+) for user alice\n", ran.output_of("drf_create_token")
    )
    assert made, ran.output_of("drf_create_token")
    rotated = ran.output_of("rotate_token alice").strip()
    assert TOKEN_KEY.match(rotated)
    assert rotated != made[1]
    assert (writes_with(made[1]), writes_with(rotated)) == (401, 201)


@pytest.mark.django_db(transaction=True)
def test_the_logins_and_tokens_runbook_runs_as_written(client, token, tmp_path):
    # One lock for the first reset, two for the next, three, then four: each command's own.
    locks = [
        ("alice", CLIENT),
        *[("alice", address) for address in ("198.51.100.7", "192.0.2.7")],
        *[(name, CLIENT) for name in ("bob", "carol", "dave")],
        *[(name, "198.51.100.9") for name in ("erin", "frank", "grace", "heidi")],
    ]
    for username, address in locks:
        lock(client, username, address)

    ran = runbook("docs/logins-and-tokens.md", tmp_path)

    listed = ran.output_of("axes_list_attempts").splitlines()
    assert sorted(listed) == sorted(f"{address}\t{name}\t5" for name, address in locks)
    removed = [output.strip() for output in ran.outputs_of("manage.py axes_reset")]
    assert removed == [f"{count} attempts removed." for count in (1, 2, 3, 4)]
    assert not AccessAttempt.objects.exists()
    assert log_in(client, "alice", PASSWORD, API_LOGIN, REMOTE_ADDR=CLIENT).status_code == 302
    assert logged_in(client)
    rotated = ran.output_of("rotate_token alice").strip()
    assert TOKEN_KEY.match(rotated)
    assert (writes_with(token.key), writes_with(rotated)) == (401, 201)
    # The hash the failed-login lines carry for alice, as the runbook finds it.
    assert re.fullmatch(r"[0-9a-f]{12}", ran.output_of("username_digest").strip())
