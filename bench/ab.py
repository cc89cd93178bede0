"""A/B of two server configurations: two gunicorns side by side, wrk alternating between them.

    AB_A="GUNICORN_WORKER_CLASS=sync GUNICORN_THREADS=1" AB_B="" python -m bench.ab

Each of AB_A and AB_B is a list of VAR=value settings over the benchmark's
environment (empty: the defaults). Both serve one database of AB_SIZE notes
(default 1,000). For GET, PUT and POST: AB_ROUNDS (default 5) alternating
wrk runs of BENCH_DURATION seconds each; prints each side's median req/s and
p99 and the median of the per-round ratios B ÷ A.
"""

import os
import secrets
import shlex
import statistics

from bench.bench import BENCH_DATABASE, DURATION, WARMUP, WORKERS, scenarios, wrk
from bench.database import SERVER, prepare_database
from harness.server import gunicorn

ROUNDS = int(os.environ.get("AB_ROUNDS", "5"))
SIZE = int(os.environ.get("AB_SIZE", "1000"))
PORTS = {"A": 8101, "B": 8102}
COMPARED = ("get one note", "replace (PUT)", "create (POST)")


def base_env():
    return {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{BENCH_DATABASE}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "HOST": "127.0.0.1",
        "NOTES_THROTTLE_ANON": "100000000/minute",
        "NOTES_THROTTLE_USER": "100000000/minute",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        "GUNICORN_ACCESS_LOG": "",
    }


def served(name, env):
    settings = dict(item.split("=", 1) for item in shlex.split(os.environ.get(f"AB_{name}", "")))
    env = {**env, **settings, "PORT": str(PORTS[name])}
    env.setdefault("WEB_CONCURRENCY", str(WORKERS))
    return gunicorn(env, ready="/health/ready")


def main():
    env = base_env()
    _, token, *ids = prepare_database(SIZE, env)
    with served("A", env) as server_a, served("B", env) as server_b:
        a, b = server_a.url, server_b.url
        for scenario in scenarios(""):
            if scenario.name not in COMPARED:
                continue
            for url in (a, b):
                wrk(url, scenario, scenario.path, token, ids, WARMUP)
            runs = {a: [], b: []}
            for _ in range(ROUNDS):
                for url in (a, b):
                    runs[url].append(wrk(url, scenario, scenario.path, token, ids, DURATION))
            ratios = [rb["rps"] / ra["rps"] for ra, rb in zip(runs[a], runs[b], strict=True)]
            line = [f"{scenario.name:<14}"]
            for name, url in (("A", a), ("B", b)):
                rps = statistics.median(run["rps"] for run in runs[url])
                p99 = statistics.median(run["p99_ms"] for run in runs[url])
                line.append(f"{name} {rps:7.0f} req/s p99 {p99:6.1f} ms")
            line.append(f"B/A {statistics.median(ratios):.2f}x")
            print("   ".join(line), flush=True)


if __name__ == "__main__":
    main()
