"""How long a write takes to reach the cluster's replica, and what read-your-writes costs a request.

Run against a running `make cluster`: .venv/bin/python deploy/cluster/measure_replication.py
Prints, for single-row commits on the primary (idle, then beside other writers),
the time until the replica has replayed them: how long a user who wrote reads
the primary under read-your-writes by WAL position. Then the round trips it adds.
"""

import statistics
import sys
import threading
import time
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from notes.wal import INSERTED_SQL  # the position the app records

# HAProxy's frontends: whichever member Patroni made leader, and whichever replicates.
PRIMARY = "postgres://postgres:postgres@127.0.0.1:5440/notes"
REPLICA = "postgres://postgres:postgres@127.0.0.1:5441/notes"
REDIS_URL = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
WRITES = 300


def replay_delays(count: int) -> list[float]:
    """Milliseconds from each commit on the primary until the replica has replayed it."""
    delays = []
    with (
        psycopg.connect(PRIMARY, autocommit=True) as primary,
        psycopg.connect(REPLICA, autocommit=True) as replica,
    ):
        for i in range(count):
            primary.execute("INSERT INTO notes (content) VALUES (%s)", [f"lag probe {i}"])
            (written,) = primary.execute(INSERTED_SQL).fetchone()
            started = time.perf_counter()
            query = "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0') >= %s"
            while not replica.execute(query, [written]).fetchone()[0]:
                pass
            delays.append((time.perf_counter() - started) * 1000)
        primary.execute("DELETE FROM notes WHERE content LIKE 'lag probe %'")
    return delays


def other_writers(stop: threading.Event) -> None:
    with psycopg.connect(PRIMARY, autocommit=True) as conn:
        while not stop.is_set():
            conn.execute("INSERT INTO notes (content) VALUES ('lag load')")
        conn.execute("DELETE FROM notes WHERE content = 'lag load'")


def round_trip_ms(call, count: int = 500) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) * 1000 / count


def summary(name: str, delays: list[float]) -> None:
    cuts = statistics.quantiles(delays, n=100)
    print(
        f"{name}: p50 {cuts[49]:.2f} ms, p90 {cuts[89]:.2f} ms, p99 {cuts[98]:.2f} ms, "
        f"max {max(delays):.2f} ms over {len(delays)} commits"
    )


def main() -> None:
    summary("replay delay, idle primary", replay_delays(WRITES))
    stop = threading.Event()
    writers = [threading.Thread(target=other_writers, args=(stop,)) for _ in range(4)]
    for writer in writers:
        writer.start()
    try:
        summary("replay delay, 4 other writers", replay_delays(WRITES))
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    store = redis.Redis.from_url(REDIS_URL)
    with psycopg.connect(PRIMARY, autocommit=True) as primary:
        sql = round_trip_ms(lambda: primary.execute(INSERTED_SQL))
    print(f"added per write: one query on the primary ({sql:.3f} ms) and one Redis EVAL")
    get = round_trip_ms(lambda: store.get("x"))
    print(f"added per authenticated read: one Redis GET ({get:.3f} ms)")


if __name__ == "__main__":
    main()
