"""make soak: mixed traffic at about 70% of measured capacity for a bounded time, then the verdict.

It reports 5xx responses, lost and duplicated writes (checked against the database),
p50/p99 latency over time and the growth of the workers' memory. Environment:
SOAK_SECONDS (default 300), SOAK_LOAD (0.7 of capacity), SOAK_CAPACITY_SECONDS (20),
SOAK_CLIENTS (24), SOAK_NOTES (1000), SOAK_PORT (8200), SOAK_DATABASE (notes_soak).
"""

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests

from bench.load import Soak
from bench.traffic import Traffic

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres:postgres@127.0.0.1:5432"


def report(result: dict) -> str:
    memory = result["memory"]
    lines = [
        f"soak: {result['seconds']:.0f} s at {result['target_ops_per_second']} ops/s "
        f"({result['load']:.0%} of {result['capacity_ops_per_second']} measured; achieved "
        f"{result['achieved_ops_per_second']}), {result['clients']} clients",
        f"requests {result['requests']:,}; 5xx {result['5xx']}; connection errors "
        f"{result['connection_errors']}; retries {result['retries']}; "
        f"unresolved keys {result['unresolved']}; statuses {result['statuses']}",
        f"writes acknowledged {result['acknowledged_writes']:,}; lost {result['lost']}; "
        f"duplicated {result['duplicated']}; bad replays {result['bad_replays']}",
    ]
    if memory:
        lines.append(
            f"worker memory: {memory['workers']} workers, {memory['first_mib']} -> "
            f"{memory['last_mib']} MiB ({memory['total_growth_pct']:+}%; worst worker "
            f"{memory['max_worker_growth_pct']:+}%); after the first fifth "
            f"{memory['warm_mib']} -> {memory['last_mib']} MiB "
            f"({memory['growth_after_warm_up_pct']:+}%; worst worker "
            f"{memory['max_worker_growth_after_warm_up_pct']:+}%)"
        )
    lines.append("   from (s)    ops   p50 (ms)   p99 (ms)")
    for bucket in result["latency"]:
        lines.append(
            f"{bucket['from_s']:>11} {bucket['ops']:>6} {bucket['p50_ms']:>10} "
            f"{bucket['p99_ms']:>10}"
        )
    return "\n".join(lines)


def manage(*args, env):
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def prepare(env, notes: int) -> str:
    """A fresh soak database of generated notes; a token for its one user."""
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    manage("ensure_services", env=env)
    manage("migrate", "--noinput", env=env)
    manage("seed", "--fake", str(notes), "--random-seed", "1", env=env)
    manage("createsuperuser", "--noinput", "--username", "soak", "--email", "s@x.org", env=env)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE notes")
    token = subprocess.run(
        [sys.executable, "manage.py", "drf_create_token", "soak"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[2]
    return token


def serve(env):
    """gunicorn with the project's configuration; (process, url) once it is ready."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    for _ in range(150):
        try:
            if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return server, url
        except requests.ConnectionError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the service did not become ready")


def main():
    setting = os.environ.get
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{setting('SOAK_DATABASE', 'notes_soak')}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORT": setting("SOAK_PORT", "8200"),
        "NOTES_THROTTLE_ANON": "100000000/minute",
        "NOTES_THROTTLE_USER": "100000000/minute",
        "GUNICORN_ACCESS_LOG": "",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
    }
    token = prepare(env, int(setting("SOAK_NOTES", "1000")))
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM notes")]
    server, url = serve(env)
    try:
        traffic = Traffic(url, token, ids, uuid.uuid4().hex[:8])
        soak = Soak(traffic, int(setting("SOAK_CLIENTS", "24")), server.pid)
        result = soak.run(
            env["DATABASE_URL"],
            seconds=float(setting("SOAK_SECONDS", "300")),
            load=float(setting("SOAK_LOAD", "0.7")),
            capacity_seconds=float(setting("SOAK_CAPACITY_SECONDS", "20")),
        )
    finally:
        server.terminate()
        server.wait()
    (ROOT / "bench" / "soak.json").write_text(json.dumps(result, indent=2))
    print(report(result))
    missed = result["5xx"] or result["lost"] or result["duplicated"] or result["bad_replays"]
    grew = result["memory"].get("growth_after_warm_up_pct", 0) >= 10
    sys.exit(1 if missed or grew else 0)


if __name__ == "__main__":
    main()
