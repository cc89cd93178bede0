"""make floor: what each gunicorn setup costs per request, before the application does anything.

Each setup serves two applications in turn: bench/hello.py (a WSGI hello-world,
the server's own floor) and the service's `/health/live` (Django's whole request
path, no database and no Redis). wrk drives each for FLOOR_DURATION seconds,
FLOOR_ROUNDS times, the setups interleaved round by round so the machine's drift
hits them alike; the report is the median of the rounds, in µs of CPU per request
for each part of the machine (bench/machine.py), and requests per second.
Environment: FLOOR_DURATION (seconds, default 5), FLOOR_ROUNDS (default 3), FLOOR_SETUPS.
"""

import os
import secrets
import statistics
from dataclasses import dataclass

from bench.bench import Scenario, wrk
from bench.database import SERVER
from harness.server import ROOT, free_port, gunicorn

DURATION = int(os.environ.get("FLOOR_DURATION", "5"))
ROUNDS = int(os.environ.get("FLOOR_ROUNDS", "3"))
CORES = os.cpu_count() or 1


@dataclass
class Setup:
    name: str
    env: dict[str, str]


SETUPS = [
    Setup(
        "sync ×4",
        {
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_THREADS": "1",
            "WEB_CONCURRENCY": str(2 * CORES),
        },
    ),
    Setup("gthread 4×2", {"GUNICORN_THREADS": "2", "WEB_CONCURRENCY": str(2 * CORES)}),
    Setup("gthread 4×8", {"GUNICORN_THREADS": "8", "WEB_CONCURRENCY": str(2 * CORES)}),
    Setup("gthread 2×16", {"GUNICORN_THREADS": "16", "WEB_CONCURRENCY": str(CORES)}),
    Setup("gthread 4×2, no access log", {"GUNICORN_THREADS": "2", "GUNICORN_ACCESS_LOG": ""}),
    Setup(
        "gthread 4×2, split writes", {"GUNICORN_THREADS": "2", "GUNICORN_WHOLE_RESPONSES": "false"}
    ),
    Setup("gthread 4×8, no access log", {"GUNICORN_THREADS": "8", "GUNICORN_ACCESS_LOG": ""}),
]
# FLOOR_SETUPS: the setups to run, by name, separated by ";" (default all).
ONLY = [name for name in os.environ.get("FLOOR_SETUPS", "").split(";") if name]
APPS = {"hello-world": ("bench.hello:application", "/"), "/health/live": (None, "/health/live")}


def environment(setup: Setup) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/notes_bench",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": str(2 * CORES),
        **setup.env,
    }


def one_run(setup: Setup, app: str | None, path: str) -> dict:
    env = environment(setup)
    with gunicorn(env, ROOT / "bench" / "floor.log", ready=path, app=app) as server:
        scenario = Scenario("floor", "GET", path)
        wrk(server.url, scenario, path, "", (1, 1), 1)  # warm every worker
        return wrk(server.url, scenario, path, "", (1, 1), DURATION)


def main() -> None:
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(ROUNDS):
        for setup in SETUPS:
            if ONLY and setup.name not in ONLY:
                continue
            for label, (app, path) in APPS.items():
                runs.setdefault((setup.name, label), []).append(one_run(setup, app, path))
    print("| setup | application | req/s | app server µs | kernel softirq µs | idle |")
    print("|---|---|---:|---:|---:|---:|")
    for (setup_name, label), results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        app_us = statistics.median(r["cpu_us"]["app"] for r in results)
        softirq = statistics.median(r["cpu_us"]["softirq"] for r in results)
        idle = statistics.median(r["cpu_us"]["idle_share"] for r in results)
        print(
            f"| {setup_name} | {label} | {rps:,.0f} | {app_us:,.0f} | {softirq:,.0f} | {idle:.0%} |"
        )


if __name__ == "__main__":
    main()
