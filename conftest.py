"""Fixtures shared by the whole suite: clients, users, notes and a gunicorn server."""

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notes.models import Note

BASE_DIR = Path(__file__).resolve().parent
# Tests get a Redis database of their own, so clearing it never touches a dev server's.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
GENEROUS_RATES = {"anon": "100000/minute", "user": "100000/minute"}


@pytest.fixture(scope="session", autouse=True)
def static_files():
    """Pages render with the same hashed static files as production."""
    call_command("collectstatic", "--noinput", verbosity=0)


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
    return Token.objects.create(user=user)


@pytest.fixture
def auth_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def note(db):
    return Note.objects.create(content="Buy milk")


@pytest.fixture
def make_notes(db):
    def make(count, content="note {}", **fields):
        return Note.objects.bulk_create(
            Note(content=content.format(i), **fields) for i in range(count)
        )

    return make


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(name):
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"


def server_params():
    """psycopg connection arguments for the test PostgreSQL server, any database."""
    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


@contextmanager
def gunicorn(log_dir, **settings):
    """Serve the project under gunicorn with DEBUG off, as in production; yield (url, process)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "REDIS_URL": TEST_REDIS_URL,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "4",
        "NOTES_THROTTLE_ANON": "100000/minute",
        "NOTES_THROTTLE_USER": "100000/minute",
        "GUNICORN_ACCESS_LOG": "-",
        **settings,
    }
    log = log_dir / f"gunicorn-{port}.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_live(url, server, log)
        # The first worker may answer before the last has forked: tests that
        # count workers (kill one, reload) need them all.
        _wait_until(lambda: len(children_of(server.pid)) == int(env["WEB_CONCURRENCY"]), log)
        yield url, server, log
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def gunicorn_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """The service under gunicorn on the test database, shared by the whole session."""
    log_dir = tmp_path_factory.mktemp("gunicorn")
    # A low anonymous rate, so a test can show the limit holds across workers (a
    # daily window, so no window boundary falls inside that test).
    with gunicorn(log_dir, NOTES_THROTTLE_ANON="30/day") as (url, _, _):
        yield url


def children_of(pid):
    """The processes whose parent is `pid` (gunicorn forks workers from more than one thread)."""
    children = set()
    for child in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{child}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            children.add(int(child))
    return children


def _wait_until(condition, log, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not start every worker:\n{log.read_text()}")
        time.sleep(0.1)


def _wait_until_live(url, server, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not come up:\n{log.read_text()}")
