"""make soak: mixed traffic at about 70% of measured capacity for a bounded time, then the verdict.

It reports 5xx responses, lost and duplicated writes (checked against the database),
p50/p99 latency over time and the growth of the workers' memory. Environment:
SOAK_SECONDS (default 300), SOAK_LOAD (0.7 of capacity), SOAK_CAPACITY_SECONDS (20),
SOAK_CLIENTS (24), SOAK_NOTES (1000), SOAK_PORT (8200), SOAK_DATABASE (notes_soak).
"""

import json
import os
import queue
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench.traffic import Traffic, verify

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres:postgres@127.0.0.1:5432"


class Soak:
    """Measures capacity with closed-loop clients, then holds a fraction of it, open loop."""

    def __init__(self, traffic: Traffic, clients: int = 24, server_pid: int | None = None):
        self.traffic, self.clients, self.server_pid = traffic, clients, server_pid
        self.done: list = []  # (finished, seconds since the operation was due)
        self.memory: list = []  # (seconds into the soak, {worker pid: RSS MiB})

    def capacity(self, seconds: float) -> float:
        """Operations per second that `clients` back-to-back clients get through."""
        deadline, finished = time.monotonic() + seconds, []

        def client():
            while time.monotonic() < deadline:
                self.traffic.one()
                finished.append(1)

        self.in_threads(client)
        return len(finished) / seconds

    def hold(self, rate: float, seconds: float) -> None:
        """Start operations at `rate` per second for `seconds`, whether or not earlier ones ended.

        Latency counts from when an operation was due, so a backlog shows in it.
        """
        due: queue.Queue[Any] = queue.Queue()
        start = time.monotonic()
        sampler = threading.Thread(target=self.sample_memory, args=(start, seconds), daemon=True)
        sampler.start()

        def client():
            while (at := due.get()) is not None:
                self.traffic.one()
                finished = time.monotonic()
                self.done.append((finished - start, finished - at))

        workers = [threading.Thread(target=client) for _ in range(self.clients)]
        for worker in workers:
            worker.start()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            due.put(start + n / rate)
        for _ in workers:
            due.put(None)
        for worker in workers:
            worker.join()
        sampler.join()

    def in_threads(self, target):
        threads = [threading.Thread(target=target) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def sample_memory(self, start: float, seconds: float) -> None:
        if self.server_pid is None:
            return
        step = max(1.0, seconds / 30)
        while (elapsed := time.monotonic() - start) <= seconds + step / 2:
            self.memory.append((elapsed, worker_rss_mib(self.server_pid)))
            time.sleep(step)

    def run(self, database_url: str, seconds: float, load: float, capacity_seconds: float):
        """Measure, hold, check: the whole soak, as a dict."""
        with psycopg.connect(database_url) as conn:
            sends_before: dict[int, int] = dict(
                conn.execute("SELECT id, times_sent FROM notes").fetchall()
            )
        capacity = self.capacity(capacity_seconds)
        ledger = self.traffic.ledger
        before_statuses, before_samples = ledger.statuses.copy(), len(ledger.samples)
        self.hold(load * capacity, seconds)
        statuses = ledger.statuses - before_statuses
        return {
            "seconds": seconds,
            "load": load,
            "capacity_ops_per_second": round(capacity, 1),
            "target_ops_per_second": round(load * capacity, 1),
            "achieved_ops_per_second": round(len(self.done) / seconds, 1),
            "clients": self.clients,
            "requests": len(ledger.samples) - before_samples,
            "statuses": dict(sorted(statuses.items())),
            "5xx": sum(count for status, count in statuses.items() if status >= 500),
            "5xx_while_measuring_capacity": sum(
                count for status, count in before_statuses.items() if status >= 500
            ),
            "connection_errors": sum(ledger.errors.values()),
            "retries": ledger.retries,
            "unresolved": len(ledger.unresolved),
            "bad_replays": ledger.bad_replays,
            **verify(ledger, database_url, self.traffic.run_id, sends_before),
            "latency": self.latency_over_time(seconds),
            "memory": self.memory_growth(),
        }

    def latency_over_time(self, seconds: float) -> list[dict]:
        width = max(5, round(seconds / 10))
        buckets: dict[int, list] = {}
        for finished, latency in self.done:
            buckets.setdefault(int(finished // width), []).append(latency)
        return [
            {
                "from_s": index * width,
                "ops": len(latencies),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            }
            for index, latencies in sorted(buckets.items())
        ]

    def memory_growth(self) -> dict:
        if len(self.memory) < 2:
            return {}
        (_, first), (_, last) = self.memory[0], self.memory[-1]
        kept = set(first) & set(last)  # a worker replaced meanwhile has no growth to speak of
        growth = {pid: last[pid] / first[pid] - 1 for pid in kept}
        return {
            "workers": len(last),
            "first_mib": round(sum(first.values()), 1),
            "last_mib": round(sum(last.values()), 1),
            "total_growth_pct": round((sum(last.values()) / sum(first.values()) - 1) * 100, 2),
            "max_worker_growth_pct": round(max(growth.values(), default=0) * 100, 2),
            "replaced_workers": len(set(first) - set(last)),
        }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def worker_rss_mib(server_pid: int) -> dict[int, float]:
    """Resident memory of each of the server's child processes."""
    sizes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) != server_pid:
                    continue
            with open(f"/proc/{pid}/status") as status:
                rss = next(line for line in status if line.startswith("VmRSS"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        sizes[int(pid)] = int(rss.split()[1]) / 1024
    return sizes


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
            f"{memory['max_worker_growth_pct']:+}%)"
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
    sys.exit(1 if missed or result["memory"].get("total_growth_pct", 0) >= 10 else 0)


if __name__ == "__main__":
    main()
