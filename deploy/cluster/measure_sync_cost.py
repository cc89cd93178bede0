"""What synchronous replication costs writes: POST throughput through the balancer, on and off.

Run against a running `make cluster`:
    .venv/bin/python deploy/cluster/measure_sync_cost.py [SECONDS] [CLIENTS]
Creates notes through HAProxy (8080) from CLIENTS threads (default 8) for SECONDS
(default 15) with Patroni's synchronous_mode on, then off, then on again (set with
`patronictl edit-config`), and prints requests per second and latency for each; then
the commit itself: single-row INSERTs, one after another, straight on the primary.
The cluster is left in synchronous mode. The notes it made are deleted.
"""

import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness.wait import until

RUN_DIR = Path(os.environ.get("CLUSTER_RUN_DIR", "/tmp/notes-cluster"))
BALANCER = f"http://127.0.0.1:{os.environ.get('CLUSTER_BALANCER_PORT', '8080')}"
PRIMARY_PORT = os.environ.get("CLUSTER_PRIMARY_PORT", "5440")
PRIMARY = f"postgres://postgres:postgres@127.0.0.1:{PRIMARY_PORT}/notes"
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 15
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 8


def patronictl(*args: str) -> str:
    config = str(RUN_DIR / "pg1" / "patroni.yml")
    return subprocess.run(
        ["patronictl", "-c", config, *args], check=True, capture_output=True, text=True
    ).stdout


def synchronous(on: bool) -> None:
    """Set synchronous_mode, and wait until the primary's synchronous_standby_names says so."""
    value = "true" if on else "false"
    patronictl("edit-config", "--force", "-s", f"synchronous_mode={value}")

    def taken_effect() -> bool:
        with psycopg.connect(PRIMARY, autocommit=True) as conn:
            (names,) = conn.execute("SHOW synchronous_standby_names").fetchone()
        return bool(names) == on

    if not until(taken_effect, timeout=60, step=0.5):
        raise RuntimeError(f"synchronous_mode={value} did not take effect")


def user_token() -> str:
    with psycopg.connect(PRIMARY, autocommit=True) as conn:
        (user_id,) = conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined) VALUES ('!', false,"
            " 'sync-cost-' || md5(random()::text), '', '', '', false, true, now()) RETURNING id"
        ).fetchone()
        # The service stores a key's SHA-256 digest (notes/tokens/keys.py), never the key.
        key = f"notes_{secrets.token_hex(24)}"
        conn.execute(
            "INSERT INTO notes_token (digest, hint, name, created, user_id) VALUES"
            " (encode(sha256(convert_to(%s, 'UTF8')), 'hex'), %s, '', now(), %s)",
            [key, f"notes_…{key[-4:]}", user_id],
        )
    return key


def load(token: str) -> tuple[float, list[float]]:
    """Requests per second and each request's milliseconds, from CLIENTS threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def client() -> None:
        mine = []
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = session.post(f"{BALANCER}/api/notes/", json={"content": "sync cost"})
                assert answer.status_code == 201, answer.text
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / SECONDS, latencies


def commit_ms(count: int = 500) -> float:
    """Milliseconds per single-row commit on the primary, one client."""
    with psycopg.connect(PRIMARY, autocommit=True) as conn:
        started = time.perf_counter()
        for _ in range(count):
            conn.execute("INSERT INTO notes (content) VALUES ('sync cost')")
        return (time.perf_counter() - started) * 1000 / count


def main() -> None:
    token = user_token()
    try:
        for on in (True, False, True):
            synchronous(on)
            rate, latencies = load(token)
            cuts = statistics.quantiles(latencies, n=100)
            print(
                f"synchronous_mode {'on ' if on else 'off'}: {rate:.0f} POST/s, "
                f"p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms "
                f"({len(latencies)} creates, {CLIENTS} clients, {SECONDS:.0f} s)"
            )
        for on in (True, False):
            synchronous(on)
            print(f"synchronous_mode {'on ' if on else 'off'}: {commit_ms():.2f} ms per commit")
    finally:
        synchronous(True)
        with psycopg.connect(PRIMARY, autocommit=True) as conn:
            conn.execute("DELETE FROM notes WHERE content = 'sync cost'")


if __name__ == "__main__":
    main()
