"""make soak: mixed traffic at about 70% of measured capacity for a bounded time, then the verdict.

It reports 5xx responses, lost and duplicated writes (checked against the database),
p50/p99 latency over time and the growth of the workers' memory. Environment:
SOAK_SECONDS (default 300), SOAK_LOAD (0.7 of capacity), SOAK_CAPACITY_SECONDS (20),
SOAK_CLIENTS (24), SOAK_NOTES (1000), SOAK_PORT (8200), SOAK_DATABASE (notes_soak).
"""

import json
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager

import psycopg

from bench.database import SERVER, prepare_database
from harness.ledger import check, sends_now
from harness.server import ROOT, children_of, environment, gunicorn, memory_mib
from harness.traffic import Traffic

OVER_TIME = ("latency", "memory_mib_over_time")  # in bench/soak.json; the report prints latency


def soak(traffic: Traffic, database_url, server_pid, seconds, load, capacity_seconds, clients):
    """Capacity measured with closed-loop clients, `load` of it held open loop for `seconds`,
    then the database checked: the whole soak, as a dict."""
    sends_before = sends_now(database_url)
    deadline, finished = time.monotonic() + capacity_seconds, []

    def closed_loop():
        while time.monotonic() < deadline:
            traffic.one()
            finished.append(1)

    with running([closed_loop] * clients):
        pass
    capacity, before = len(finished) / capacity_seconds, traffic.statuses.copy()
    with vacuuming(database_url):
        done, memory = open_loop(traffic, clients, load * capacity, seconds, server_pid)
    statuses = traffic.statuses - before
    written = check(database_url, traffic.ledger, f"soak {traffic.run_id} %", sends_before)
    return {
        "seconds": seconds,
        "load": load,
        "capacity_ops_per_second": round(capacity, 1),
        "target_ops_per_second": round(load * capacity, 1),
        "achieved_ops_per_second": round(len(done) / seconds, 1),
        "clients": clients,
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "5xx": five_xx(statuses),
        "5xx_while_measuring_capacity": five_xx(before),
        "connection_errors": sum(traffic.errors.values()),
        "retries": traffic.retries,
        "unresolved": len(traffic.unresolved),
        "bad_replays": traffic.bad_replays,
        "acknowledged_writes": traffic.ledger.writes(),
        "lost": len(written.lost),
        "duplicated": len(written.duplicated),
        # Written though never acknowledged: only a write given up on may be one of these.
        "unacknowledged_writes": len(written.unacknowledged),
        "latency": latency_over_time(done, seconds),
        "memory": memory_growth(memory),
        "memory_mib_over_time": [(round(at), round(sum(m.values()), 1)) for at, m in memory],
    }


def open_loop(traffic: Traffic, clients: int, rate: float, seconds: float, server_pid: int):
    """Operations started at `rate` per second for `seconds`, whether or not earlier ones ended,
    and the workers' RSS sampled meanwhile: [(seconds in, seconds since the operation was
    due)], so that a backlog shows in the latency, and [(seconds in, {worker: RSS MiB})]."""
    due: queue.Queue = queue.Queue()
    start, done, memory, step = time.monotonic(), [], [], max(1.0, seconds / 30)

    def client():
        while (at := due.get()) is not None:
            traffic.one()
            finished = time.monotonic()
            done.append((finished - start, finished - at))

    def sample_memory():
        while (elapsed := time.monotonic() - start) <= seconds + step / 2:
            sizes = memory_mib(children_of(server_pid))
            memory.append((elapsed, {pid: size["rss"] for pid, size in sizes.items()}))
            time.sleep(step)

    with running([client] * clients + [sample_memory]):
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            due.put(start + n / rate)
        for _ in range(clients):
            due.put(None)
    return done, memory


@contextmanager
def running(targets):
    """Each target in a thread of its own: started on entering, joined on leaving."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    yield
    for thread in threads:
        thread.join()


def latency_over_time(done, seconds) -> list[dict]:
    width, buckets = max(5, round(seconds / 10)), defaultdict(list)
    for finished, latency in done:
        buckets[int(finished // width)].append(latency)
    return [
        {
            "from_s": index * width,
            "ops": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000, 1),
        }
        for index, latencies in sorted(buckets.items())
    ]


def memory_growth(memory) -> dict:
    """Growth after the first fifth of the hold (once the workers warmed up), in all and of the
    worker that grew most (a worker replaced meanwhile has no growth to speak of)."""
    if len(memory) < 2:
        return {}
    end, last = memory[-1]
    warm = next(sizes for at, sizes in memory if at >= end / 5)
    kept = set(warm) & set(last)
    worst = max((last[pid] / warm[pid] - 1 for pid in kept), default=0)
    return {
        "workers": len(last),
        "warm_mib": round(sum(warm.values()), 1),
        "last_mib": round(sum(last.values()), 1),
        "growth_after_warm_up_pct": round((sum(last.values()) / sum(warm.values()) - 1) * 100, 2),
        "max_worker_growth_after_warm_up_pct": round(worst * 100, 2),
        "replaced_workers": len(set(memory[0][1]) - set(last)),
    }


def five_xx(statuses: Counter) -> int:
    return sum(count for status, count in statuses.items() if status >= 500)


@contextmanager
def vacuuming(database_url: str, every: float = 60):
    """Stand in for autovacuum where the server has it off (this project's CI machine does):
    production PostgreSQL vacuums and analyzes a table that changes this fast within minutes;
    without it dead rows pile up and plans go stale, which would measure the server's
    configuration rather than the service."""
    stop = threading.Event()

    def vacuum():
        with psycopg.connect(database_url, autocommit=True) as conn:
            if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
                return
            while not stop.wait(every):
                for table in ("notes", "idempotency_keys"):
                    conn.execute(f"VACUUM (ANALYZE) {table}")

    with running([vacuum]):
        try:
            yield
        finally:
            stop.set()


def report(result: dict) -> str:
    """Each figure of the soak on a line of its own, then the latency over time."""
    lines = [f"{key}: {value}" for key, value in result.items() if key not in OVER_TIME]
    lines.append("   from (s)    ops   p50 (ms)   p99 (ms)")
    for bucket in result["latency"]:
        lines.append("{from_s:>11} {ops:>6} {p50_ms:>10} {p99_ms:>10}".format_map(bucket))
    return "\n".join(lines)


def main():
    setting = os.environ.get
    env = environment(
        DATABASE_URL=f"{SERVER}/{setting('SOAK_DATABASE', 'notes_soak')}",
        PORT=setting("SOAK_PORT", "8200"),
        GUNICORN_ACCESS_LOG="",
    )
    _, token, low, high = prepare_database(int(setting("SOAK_NOTES", "1000")), env)
    with gunicorn(env, ready="/health/ready") as server:
        traffic = Traffic(server.url, token, list(range(low, high + 1)), uuid.uuid4().hex[:8])
        result = soak(
            traffic,
            env["DATABASE_URL"],
            server.process.pid,
            seconds=float(setting("SOAK_SECONDS", "300")),
            load=float(setting("SOAK_LOAD", "0.7")),
            capacity_seconds=float(setting("SOAK_CAPACITY_SECONDS", "20")),
            clients=int(setting("SOAK_CLIENTS", "24")),
        )
    (ROOT / "bench" / "soak.json").write_text(json.dumps(result, indent=2))
    print(report(result))
    missed = result["5xx"] or result["lost"] or result["duplicated"] or result["bad_replays"]
    grew = result["memory"].get("growth_after_warm_up_pct", 0) >= 10
    sys.exit(1 if missed or grew else 0)


if __name__ == "__main__":
    main()
