"""Waiting for a condition, bounded: the polling loop of the harness, of most tests and of the
cluster's measurements, and the condition many of them wait on, read from PostgreSQL itself."""

import time
from collections.abc import Callable
from typing import Any

import psycopg


def until(condition: Callable[[], object], timeout: float = 15, step: float = 0.1) -> bool:
    """Whether `condition()` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def backend_pid(conn: psycopg.Connection[Any]) -> int:
    """The server process behind `conn` (asked in SQL: behind PgBouncer, libpq's pid is not it)."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def blocked_by(watcher: psycopg.Connection[Any], holder: int, waited: str = "0 seconds") -> int:
    """How many sessions wait on a lock the backend `holder` holds, each in a statement that has
    waited at least `waited` (an interval, by PostgreSQL's clock). `watcher` must autocommit:
    pg_stat_activity is read once per transaction."""
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND %s = ANY(pg_blocking_pids(pid)) AND clock_timestamp() - query_start >= %s::interval",
        [holder, waited],
    ).fetchone()
    assert row is not None
    return int(row[0])
