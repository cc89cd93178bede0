"""Fixtures shared by the whole suite: clients, users, notes and a gunicorn server."""

import fcntl
import os
import shutil
import subprocess
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import sync_playwright
from rest_framework.test import APIClient

import harness.server
import harness.wait
from notes.api.leases import forget_leases
from notes.models import Note
from notes.tokens.models import Token

BASE_DIR = Path(__file__).resolve().parent
# Tests get a Redis database of their own, so clearing it never touches a dev server's;
# under pytest-xdist each worker (gw0, gw1, ...) one more below it, as each has its own
# PostgreSQL test database.
_REDIS, _REDIS_DB = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
TEST_REDIS_URL = f"{_REDIS}/{int(_REDIS_DB) - _WORKER}"
# DATABASE_URL's database: pytest-django's test database takes its place once a test needs one.
CONFIGURED_DATABASE = connection.settings_dict["NAME"]
GENEROUS_RATES = {"anon": "100000/minute", "user": "100000/minute", "login": "100000/minute"}
ARTIFACTS = BASE_DIR / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As offline as a machine with no internet: no background traffic at all.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def static_files(tmp_path_factory):
    """Pages render with the same hashed static files as production.

    Under pytest-xdist every worker comes here, but only the first collects (a
    lock and a mark in the directory the workers share): collectstatic deletes
    each hashed file before writing it again, so a second run would pull files
    from under the other worker's tests as WhiteNoise lists them.
    """
    shared = tmp_path_factory.getbasetemp().parent
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    with open(shared / "collectstatic.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "collectstatic.done"
        if run is None or not done.exists() or done.read_text() != run:
            call_command("collectstatic", "--noinput", verbosity=0)
            if run is not None:
                done.write_text(run)


@pytest.fixture(scope="session", autouse=True)
def no_connection_outlives_the_suite(django_db_setup, django_db_blocker):
    """At the end, no session but ours is left on the test database (else it cannot be dropped).

    A leak fails the run, at the teardown of its last test: each session is listed
    with its last query and the local process holding its client end (`ss`).
    """
    yield
    if connection.settings_dict["NAME"] == CONFIGURED_DATABASE:
        return  # no test asked for a database, so none was made
    with django_db_blocker.unblock():
        connection.ensure_connection()
    if connection.behind_pooler:
        return  # a pooler keeps its server connections open: no leak can be told from them
    with django_db_blocker.unblock():
        others = harness.wait.until(lambda: not other_sessions(), timeout=10) or other_sessions()
    if others is not True:
        pytest.fail(f"sessions left on the test database: {others}", pytrace=False)


def other_sessions():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, client_port, state, backend_start, left(query, 200)"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        rows = cursor.fetchall()
    return [(*row, owner_of(row[2])) for row in rows]


def owner_of(port):
    """The local process holding the client end of a connection, as `ss` reports it."""
    done = subprocess.run(["ss", "-tnpH", f"sport = :{port}"], capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def rate_limit_store(settings, monkeypatch):
    """A clean rate-limit store per test, with limits no ordinary test reaches."""
    settings.REDIS_URL = TEST_REDIS_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": "notes",
        }
    }
    cache.clear()
    # What this process holds of the quotas Redis has just forgotten.
    forget_leases()
    monkeypatch.setattr(
        "rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", GENEROUS_RATES
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Production's PBKDF2 is slow on purpose; tests only need passwords to round-trip.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", password="correct horse battery")


@pytest.fixture
def token(user):
    return Token.objects.issue(user)


@pytest.fixture
def auth_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def note(db):
    return Note.objects.create(content="Buy milk")


@pytest.fixture
def dated_note(note):
    """`note` ("Buy milk") made in winter, last changed in summer: its JSON can be written out."""
    Note.objects.filter(pk=note.pk).update(
        created_at=datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC),
        updated_at=datetime(2024, 7, 1, 8, 0, tzinfo=UTC),
    )
    note.refresh_from_db()
    return note


@pytest.fixture
def make_notes(db):
    def make(count, content="note {}", **fields):
        return Note.objects.bulk_create(
            Note(content=content.format(i), **fields) for i in range(count)
        )

    return make


def database_url(name):
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"


def live_database_url():
    """The test database's URL, for processes and connections outside Django's."""
    return database_url(connection.settings_dict["NAME"])


def server_params():
    """psycopg connection arguments for the test PostgreSQL server, any database."""
    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


@contextmanager
def gunicorn(log_dir, **settings):
    """The project under gunicorn on the test database, in the harness's environment (DEBUG off,
    as in production); yields (url, process, log)."""
    defaults = {"DATABASE_URL": live_database_url(), "REDIS_URL": TEST_REDIS_URL}
    defaults.update(WEB_CONCURRENCY="4", GUNICORN_ACCESS_LOG="-")
    env = harness.server.environment(**{**defaults, **settings})
    with harness.server.gunicorn(env, log_dir / f"gunicorn-{env['PORT']}.log") as server:
        yield server.url, server.process, server.log


@pytest.fixture(scope="session")
def gunicorn_served(django_db_setup, django_db_blocker, tmp_path_factory):
    """The service under gunicorn on the test database, shared by the whole session.

    Yields (url, process, log); its log is JSON, so a test can read which worker
    answered a request (harness.server.workers_that_answered).
    """
    log_dir = tmp_path_factory.mktemp("gunicorn")
    # A low anonymous rate, so a test can show the limit holds across workers (a
    # daily window, so no window boundary falls inside that test).
    with gunicorn(log_dir, NOTES_THROTTLE_ANON="30/day", LOG_FORMAT="json") as served:
        yield served


@pytest.fixture(scope="session")
def gunicorn_url(gunicorn_served):
    return gunicorn_served[0]


@pytest.fixture
def live_server_process(transactional_db, tmp_path):
    """gunicorn of its own for a test that kills, reloads or stops it: 3 workers of 2 threads."""
    with gunicorn(tmp_path, WEB_CONCURRENCY="3", GUNICORN_THREADS="2") as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop; Django's ORM, used by the
    # tests alongside it, would otherwise refuse to run next to one.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
