"""make profile and make instructions: what a request costs in process, the WSGI application
called directly against the real PostgreSQL and Redis (database PROFILE_DATABASE, made and
seeded here): what a worker spends on a request, network waits excluded.

make profile: CPU µs per call, best of PROFILE_ROUNDS (3) rounds of PROFILE_CALLS (1,000) per
scenario. PROFILE_CPROFILE=<scenario> prints instead the cProfile of one round of it, ordered
by PROFILE_SORT (cumulative).

make instructions (`python -m bench.profile instructions`): instructions per call, counted by
valgrind's callgrind. Unlike CPU time they do not move with the machine's load, so a lever worth
a few µs can be told from noise. Each scenario runs twice under callgrind, in a process of its
own, with 0 and with INSTRUCTIONS_CALLS (50) calls after the same warm-up: the difference per
call is the steady-state count, of that process only (not PostgreSQL's or Redis's).
INSTRUCTIONS_SCENARIOS: the scenarios to count, comma-separated (default all).
"""

import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

from bench.database import SERVER
from harness.server import ROOT, environment

CALLS = int(os.environ.get("PROFILE_CALLS", "1000"))
ROUNDS = int(os.environ.get("PROFILE_ROUNDS", "3"))
COUNTED = int(os.environ.get("INSTRUCTIONS_CALLS", "50"))
os.environ.update(
    environment(
        DATABASE_URL=f"{SERVER}/{os.environ.get('PROFILE_DATABASE', 'notes_profile')}",
        DJANGO_SETTINGS_MODULE="notes_project.settings",
    )
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
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
    user, _ = get_user_model().objects.get_or_create(username="profile")
    # Only a key's digest is stored: a new token each run, the user's older ones revoked.
    Token.objects.filter(user=user).delete()
    return str(Token.objects.issue(user).key), Note.objects.order_by("id")[0].id


def environ(method: str, path: str, body: bytes = b"", token: str | None = None) -> Environ:
    env: Environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.input": io.BytesIO(body),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
    }
    if body:
        env.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)))
    if token:
        env["HTTP_AUTHORIZATION"] = f"Token {token}"
    setup_testing_defaults(env)  # the rest of what a WSGI server sets
    return env


def call(env: Environ) -> str:
    env["wsgi.input"].seek(0)
    status: list[str] = []
    result = application(dict(env), lambda s, h, *a: status.append(s))
    for _ in result:
        pass
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


def instructions(scenario: str, calls: int) -> int:
    """What callgrind counts in a process of its own that makes `calls` calls of `scenario`
    after the warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # A fixed hash seed: otherwise dict and set orders, and so the start-up's count,
        # differ from run to run by far more than a request costs.
        env = {**os.environ, "PYTHONHASHSEED": "0", "PROFILE_COUNT": scenario}
        env["PROFILE_COUNT_CALLS"] = str(calls)
        # Callgrind is ~50x slower: a token cache expiring in one run only made a 1.8 M GET 19 M.
        env["TOKEN_CACHE_SECONDS"] = "3600"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
        command += ["-m", "bench.profile"]
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        summary = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert summary, "callgrind wrote no total"
        return int(summary[1])


def main() -> None:
    cases = scenarios(*prepare())
    for name, env in cases.items():
        if not (status := call(env)).startswith(("200", "201")):
            raise SystemExit(f"{name} answered {status}; the profile would be meaningless")
    if sys.argv[1:] == ["instructions"]:
        print(f"Instructions per request, in process (callgrind, {COUNTED} calls after a warm-up)")
        for name in os.environ.get("INSTRUCTIONS_SCENARIOS", ",".join(cases)).split(","):
            per_call = (instructions(name, COUNTED) - instructions(name, 0)) / COUNTED
            print(f"{name:<12} {per_call:12,.0f}", flush=True)
    elif counted := os.environ.get("PROFILE_COUNT"):  # under callgrind: the warm-up, then calls
        for _ in range(20 + int(os.environ.get("PROFILE_COUNT_CALLS", "0"))):
            call(cases[counted])
    elif only := os.environ.get("PROFILE_CPROFILE"):
        profile = cProfile.Profile(time.process_time)
        profile.runcall(lambda: [call(cases[only]) for _ in range(CALLS)])
        pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            45
        )
    else:
        print(f"CPU µs per request, in process, best of {ROUNDS} x {CALLS} calls")
        for name, env in cases.items():
            for _ in range(100):  # warm caches and connections
                call(env)
            print(f"{name:<12} {cpu_us_per_call(env):8.0f}", flush=True)


if __name__ == "__main__":
    main()
