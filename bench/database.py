"""A benchmark's database: dropped, migrated and seeded afresh, with a superuser's token."""

import secrets
import subprocess
import sys
import time
from collections.abc import Mapping

import psycopg

from harness.server import ROOT

SERVER = "postgres://postgres:postgres@127.0.0.1:5432"


def manage(*args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return done.stdout.decode()


def prepare_database(size: int, env: Mapping[str, str]) -> tuple[float, str, int, int]:
    """A fresh database of `size` generated notes: seconds seeding took, a token, the id range."""
    server, name = env["DATABASE_URL"].rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    manage("ensure_services", env=env)
    manage("migrate", "--noinput", env=env)
    started = time.monotonic()
    manage("seed", "--fake", str(size), "--random-seed", "1", env=env)
    seed_seconds = time.monotonic() - started
    superuser = {**env, "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16)}
    manage(
        "createsuperuser", "--noinput", "--username", "bench", "--email", "b@x.org", env=superuser
    )
    token = manage("drf_create_token", "bench", env=env).split()[2]
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE notes")
        low, high = conn.execute("SELECT min(id), max(id) FROM notes").fetchone() or (0, 0)
    return seed_seconds, token, low, high
