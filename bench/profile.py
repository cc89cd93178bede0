"""make profile: CPU microseconds per request, the WSGI application called in process.

Best of ROUNDS rounds of CALLS calls per scenario, against the real PostgreSQL
and Redis (database PROFILE_DATABASE, made and seeded here). CPU time of this
process only: what a worker spends on a request, network waits excluded.
PROFILE_CPROFILE=<scenario> prints the cProfile (CPU time) of one round of that
scenario, ordered by PROFILE_SORT (default cumulative).
"""

import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

SERVER = "postgres://postgres:postgres@127.0.0.1:5432"
DATABASE = os.environ.get("PROFILE_DATABASE", "notes_profile")
CALLS = int(os.environ.get("PROFILE_CALLS", "1000"))
ROUNDS = int(os.environ.get("PROFILE_ROUNDS", "3"))

os.environ.update(
    DATABASE_URL=f"{SERVER}/{DATABASE}",
    DEBUG="false",
    SECRET_KEY=secrets.token_urlsafe(50),
    NOTES_THROTTLE_ANON="100000000/minute",
    NOTES_THROTTLE_USER="100000000/minute",
    DJANGO_SETTINGS_MODULE="notes_project.settings",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from notes.models import Note  # noqa: E402
from notes.tokens.models import Token  # noqa: E402
from notes_project.wsgi import application  # noqa: E402

Environ = dict[str, Any]


def prepare() -> tuple[str, int]:
    """The database migrated and holding 1,000 notes; a user's token and a note id."""
    call_command("ensure_services", verbosity=0)
    call_command("migrate", "--noinput", verbosity=0)
    if Note.objects.count() < 1000:
        call_command("seed", "--fake", "1000", "--random-seed", "1", verbosity=0)
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="profile")
    # Only a key's digest is stored: a new token each run, the user's older ones revoked.
    Token.objects.filter(user=user).delete()
    token = Token.objects.issue(user)
    note_id = Note.objects.order_by("id").values_list("id", flat=True).first()
    assert note_id is not None
    assert token.key is not None
    return token.key, note_id


def environ(method: str, path: str, body: bytes = b"", token: str | None = None) -> Environ:
    env: Environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    if token:
        env["HTTP_AUTHORIZATION"] = f"Token {token}"
    return env


def call(env: Environ) -> str:
    env["wsgi.input"].seek(0)
    status: list[str] = []
    result = application(dict(env), lambda s, h, *a: status.append(s))
    try:
        for _ in result:
            pass
    finally:
        result.close()  # type: ignore[attr-defined]
    return status[0]


def scenarios(token: str, note_id: int) -> dict[str, Environ]:
    body = json.dumps({"content": "Profiled note"}).encode()
    return {
        "health": environ("GET", "/health/live"),
        "GET anon": environ("GET", f"/api/notes/{note_id}/"),
        "GET token": environ("GET", f"/api/notes/{note_id}/", token=token),
        "PUT token": environ("PUT", f"/api/notes/{note_id}/", body, token),
        "POST token": environ("POST", "/api/notes/", body, token),
    }


def cpu_us_per_call(env: Environ) -> float:
    """Best of ROUNDS: CPU µs per call of this process."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            call(env)
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def profiled(env: Environ, run: Callable[[Environ], object]) -> str:
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(CALLS):
        run(env)
    profile.disable()
    out = io.StringIO()
    order = os.environ.get("PROFILE_SORT", "cumulative")
    pstats.Stats(profile, stream=out).sort_stats(order).print_stats(45)
    return out.getvalue()


def check(statuses: Iterable[tuple[str, str]]) -> None:
    for name, status in statuses:
        if not status.startswith(("200", "201")):
            raise SystemExit(f"{name} answered {status}; the profile would be meaningless")


def main() -> None:
    token, note_id = prepare()
    cases = scenarios(token, note_id)
    check((name, call(env)) for name, env in cases.items())
    counted = os.environ.get("PROFILE_COUNT")
    if counted:  # bench/instructions.py: warm up, then PROFILE_COUNT_CALLS calls under valgrind
        for _ in range(20):
            call(cases[counted])
        for _ in range(int(os.environ.get("PROFILE_COUNT_CALLS", "0"))):
            call(cases[counted])
        return
    only = os.environ.get("PROFILE_CPROFILE")
    if only:
        print(profiled(cases[only], call))
        return
    print(f"CPU µs per request, in process, best of {ROUNDS} x {CALLS} calls")
    for name, env in cases.items():
        for _ in range(100):  # warm caches and connections
            call(env)
        print(f"{name:<12} {cpu_us_per_call(env):8.0f}", flush=True)


if __name__ == "__main__":
    main()
