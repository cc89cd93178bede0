"""make soak: mixed traffic at about 70% of measured capacity for a bounded time, then the verdict.

It reports 5xx responses, lost and duplicated writes (checked against the database),
p50/p99 latency over time and the growth of the workers' memory. Environment:
SOAK_SECONDS (default 300), SOAK_LOAD (0.7 of capacity), SOAK_CAPACITY_SECONDS (20),
SOAK_CLIENTS (24), SOAK_NOTES (1000), SOAK_PORT (8200), SOAK_DATABASE (notes_soak).
"""

import json
import os
import secrets
import sys
import uuid

import psycopg

from bench.bench import WORKERS
from bench.database import SERVER, prepare_database
from bench.load import Soak
from bench.traffic import Traffic
from harness.server import ROOT, gunicorn


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


def prepare(env, notes: int) -> tuple[str, list[int]]:
    """A fresh soak database of generated notes: a token for its one user, and the notes' ids."""
    _, token, *_ = prepare_database(notes, env)
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return token, [row[0] for row in conn.execute("SELECT id FROM notes")]


def main():
    setting = os.environ.get
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{setting('SOAK_DATABASE', 'notes_soak')}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORT": setting("SOAK_PORT", "8200"),
        "WEB_CONCURRENCY": setting("WEB_CONCURRENCY", str(WORKERS)),
        "NOTES_THROTTLE_ANON": "100000000/minute",
        "NOTES_THROTTLE_USER": "100000000/minute",
        "GUNICORN_ACCESS_LOG": "",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
    }
    token, ids = prepare(env, int(setting("SOAK_NOTES", "1000")))
    with gunicorn(env, ready="/health/ready") as server:
        traffic = Traffic(server.url, token, ids, uuid.uuid4().hex[:8])
        soak = Soak(traffic, int(setting("SOAK_CLIENTS", "24")), server.process.pid)
        result = soak.run(
            env["DATABASE_URL"],
            seconds=float(setting("SOAK_SECONDS", "300")),
            load=float(setting("SOAK_LOAD", "0.7")),
            capacity_seconds=float(setting("SOAK_CAPACITY_SECONDS", "20")),
        )
    (ROOT / "bench" / "soak.json").write_text(json.dumps(result, indent=2))
    print(report(result))
    missed = result["5xx"] or result["lost"] or result["duplicated"] or result["bad_replays"]
    grew = result["memory"].get("growth_after_warm_up_pct", 0) >= 10
    sys.exit(1 if missed or grew else 0)


if __name__ == "__main__":
    main()
