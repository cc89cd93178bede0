"""Contract, Configuration: .env is read only when asked; database timeouts from the environment."""

import os
import secrets
import subprocess
import sys

import pytest
from django.db import connection

from conftest import BASE_DIR, database_url
from harness.wait import backend_pid, blocked_by, until
from notes import database_timeouts
from notes.tests.test_commands import scratch_database  # noqa: F401 (a fixture)

STRONG_KEY = secrets.token_urlsafe(50)
# What a deploy's environment holds: none of the development switches.
DEPLOY_ENV = {
    name: value
    for name, value in os.environ.items()
    if name not in {"DJANGO_READ_DOT_ENV_FILE", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
}


def django_shell(code, **env):
    """Run code after Django's setup with the project's own settings, in this environment."""
    setup = "import django; django.setup(); from django.conf import settings; "
    return subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=BASE_DIR,
        env={**DEPLOY_ENV, "DJANGO_SETTINGS_MODULE": "notes_project.settings", **env},
        capture_output=True,
        text=True,
    )


def test_a_deploy_does_not_read_the_development_defaults():
    result = django_shell("print(settings.DEBUG)", SECRET_KEY=STRONG_KEY)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_deploy_without_a_secret_key_refuses_to_start():
    result = django_shell("print('started')")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "started" not in result.stdout


def test_asked_for_the_development_defaults_it_reads_them():
    result = django_shell("print(settings.DEBUG)", DJANGO_READ_DOT_ENV_FILE="true")

    assert result.stdout.strip() == "True"


@pytest.mark.django_db(transaction=True)
def test_statement_and_lock_timeouts_hold_from_the_first_query():
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        assert cursor.fetchone() == ("10s", "5s")


OPTIONS = "print(settings.DATABASES['default']['OPTIONS'])"


@pytest.mark.parametrize(
    ("statement", "lock", "options"),
    [
        ("2500", "700", "'-c statement_timeout=2500 -c lock_timeout=700'"),
        ("", "700", "'-c lock_timeout=700'"),
        ("", "", None),
    ],
)
def test_timeouts_come_from_the_environment_and_empty_sends_no_options(statement, lock, options):
    result = django_shell(
        OPTIONS,
        SECRET_KEY=STRONG_KEY,
        DATABASE_STATEMENT_TIMEOUT=statement,
        DATABASE_LOCK_TIMEOUT=lock,
    )

    assert result.returncode == 0, result.stderr
    if options is None:
        # Both empty: no `options` startup parameter at all.
        assert "'options'" not in result.stdout
    else:
        assert f"'options': {options}" in result.stdout


def test_the_timeouts_are_a_structured_setting():
    result = django_shell(
        "print(settings.DATABASE_TIMEOUTS)",
        SECRET_KEY=STRONG_KEY,
        DATABASE_STATEMENT_TIMEOUT="",
        DATABASE_LOCK_TIMEOUT="700",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'lock_timeout': 700}"


def current_timeouts():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_migrate_lifts_the_timeouts_this_service_sends_and_restores_them():
    database_timeouts.lift_for_migrate("default")
    assert current_timeouts() == ("0", "0")

    database_timeouts.restore_after_migrate("default")
    assert current_timeouts() == ("10s", "5s")


@pytest.mark.django_db
def test_without_timeouts_of_its_own_migrate_sets_nothing(settings, django_assert_num_queries):
    # None sent on connect, none to lift (behind a pooler, too: test_pgbouncer.py).
    settings.DATABASE_TIMEOUTS = {}
    current_timeouts()  # connected

    with django_assert_num_queries(0):
        database_timeouts.lift_for_migrate("default")
        database_timeouts.restore_after_migrate("default")


def test_a_timeout_that_is_not_milliseconds_is_refused():
    result = django_shell("print('started')", SECRET_KEY=STRONG_KEY, DATABASE_LOCK_TIMEOUT="5s")

    assert result.returncode != 0
    assert "DATABASE_*_TIMEOUT" in result.stderr


def manage(*args, database, **env):
    return subprocess.run(
        manage_command(*args),
        cwd=BASE_DIR,
        env=manage_env(database, **env),
        capture_output=True,
        text=True,
    )


def manage_command(*args):
    return [sys.executable, "manage.py", *args]


def manage_env(database, **env):
    return {**os.environ, "DATABASE_URL": database_url(database), **env}


SHORT_TIMEOUTS = {"DATABASE_STATEMENT_TIMEOUT": "300", "DATABASE_LOCK_TIMEOUT": "100"}
# Three times the longer of them, as PostgreSQL measures a statement's wait.
WAIT = "900 milliseconds"


def test_migrate_waits_for_a_table_lock_instead_of_timing_out(scratch_database):  # noqa: F811
    """Catches migrate left under the request timeouts (pre_migrate lifting nothing)."""
    name, connect = scratch_database
    assert manage("ensure_services", database=name).returncode == 0
    assert manage("migrate", "notes", "0001", database=name).returncode == 0
    env = manage_env(name, **SHORT_TIMEOUTS)
    with connect() as writer, connect() as watcher:
        # An open write holds a lock that building the indexes of 0002 must wait for.
        writer.autocommit = False
        writer.execute("INSERT INTO notes (content) VALUES ('in flight')")
        holder = backend_pid(writer)
        migrate = subprocess.Popen(
            manage_command("migrate", "--noinput"),
            cwd=BASE_DIR,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Until PostgreSQL shows migrate blocked by the write past both its timeouts.
        until(lambda: migrate.poll() is not None or blocked_by(watcher, holder, WAIT), timeout=60)
        blocked = migrate.poll() is None and blocked_by(watcher, holder, WAIT)
        writer.commit()
        stdout, stderr = migrate.communicate(timeout=60)

    assert blocked, f"migrate was not seen waiting on the write's lock past its timeouts:\n{stderr}"
    assert migrate.returncode == 0, stderr
    assert "0002_indexes... OK" in stdout


def test_seed_fake_outlasts_the_statement_timeout(scratch_database):  # noqa: F811
    name, connect = scratch_database
    assert manage("ensure_services", database=name).returncode == 0
    assert manage("migrate", "--noinput", database=name).returncode == 0

    result = manage("seed", "--fake", "60000", database=name, **SHORT_TIMEOUTS)

    assert result.returncode == 0, result.stderr
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 60000


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "5"), ("0", "0"), ("20", "20"), ("", "None")]
)
def test_prepared_statements_follow_the_threshold_and_empty_turns_them_off(value, expected):
    env = {"SECRET_KEY": STRONG_KEY}
    if value is not None:
        env["DATABASE_PREPARE_THRESHOLD"] = value
    result = django_shell(
        "print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])", **env
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_threshold_that_is_not_a_number_refuses_to_start():
    result = django_shell("print('started')", SECRET_KEY=STRONG_KEY, DATABASE_PREPARE_THRESHOLD="x")

    assert result.returncode != 0
    assert "DATABASE_PREPARE_THRESHOLD" in result.stderr
