"""Open-loop load for the soak: capacity measured back to back, then a fraction of it held."""

import os
import queue
import statistics
import threading
import time
from contextlib import contextmanager
from typing import Any

import psycopg

from bench.traffic import Traffic, verify
from harness.ledger import sends_now


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
        sends_before = sends_now(database_url)
        capacity = self.capacity(capacity_seconds)
        ledger = self.traffic.ledger
        before_statuses, before_samples = ledger.statuses.copy(), len(ledger.samples)
        with vacuuming(database_url):
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
            "memory_mib_over_time": [
                (round(at), round(sum(sizes.values()), 1)) for at, sizes in self.memory
            ],
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
        """Growth over the whole hold, and after its first fifth (once the workers warmed up)."""
        if len(self.memory) < 2:
            return {}
        end, last = self.memory[-1]
        first = self.memory[0][1]
        warm = next(sizes for at, sizes in self.memory if at >= end / 5)
        return {
            "workers": len(last),
            "first_mib": round(sum(first.values()), 1),
            "last_mib": round(sum(last.values()), 1),
            "total_growth_pct": growth_pct(first, last),
            "max_worker_growth_pct": max_worker_growth_pct(first, last),
            "warm_mib": round(sum(warm.values()), 1),
            "growth_after_warm_up_pct": growth_pct(warm, last),
            "max_worker_growth_after_warm_up_pct": max_worker_growth_pct(warm, last),
            "replaced_workers": len(set(first) - set(last)),
        }


def growth_pct(before: dict, after: dict) -> float:
    return round((sum(after.values()) / sum(before.values()) - 1) * 100, 2)


def max_worker_growth_pct(before: dict, after: dict) -> float:
    # A worker replaced meanwhile has no growth to speak of.
    kept = set(before) & set(after)
    return round(max((after[pid] / before[pid] - 1 for pid in kept), default=0) * 100, 2)


@contextmanager
def vacuuming(database_url: str, every: float = 60):
    """Stand in for autovacuum where the server has it off (this project's CI machine does).

    Production PostgreSQL vacuums and analyzes a table that changes this fast
    within minutes; without it dead rows pile up and plans go stale, which
    would measure the server's configuration rather than the service.
    """
    stop = threading.Event()

    def vacuum():
        with psycopg.connect(database_url, autocommit=True) as conn:
            if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
                return
            while not stop.wait(every):
                for table in ("notes", "idempotency_keys"):
                    conn.execute(f"VACUUM (ANALYZE) {table}")

    thread = threading.Thread(target=vacuum, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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
