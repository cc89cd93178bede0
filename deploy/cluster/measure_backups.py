"""What backups cost and take: run against a running `make cluster` (as root), it prints

- writes (POST and PUT through the balancer) with WAL archiving on and off, in interleaved
  rounds, and the paired median of their ratio (off: archive_command `true` and no
  archive_timeout, set with ALTER SYSTEM on the leader and reset afterwards);
- the WAL written, and what the repository grew by, per 1,000 creates;
- how long after a write the leader had archived it (the loss window if every member's
  disk went at once), over several writes;
- with SIZES (default "10000 1000000"): for each size, notes added with `seed --fake`, the
  time of `make backup` (full) and of `make restore TARGET=latest` (which takes a full
  backup of the new timeline too, and copies the standby from the repository).

PARTS (default "cost wal window sizes") picks which of the four to run.

    .venv/bin/python deploy/cluster/measure_backups.py [SECONDS] [ROUNDS] [CLIENTS]
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

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("CLUSTER_RUN_DIR", "/tmp/notes-cluster"))
BACKUP_DIR = Path(os.environ.get("CLUSTER_BACKUP_DIR", "/var/lib/notes-backups"))
BALANCER = f"http://127.0.0.1:{os.environ.get('CLUSTER_BALANCER_PORT', '8080')}"
PRIMARY = (
    f"postgres://postgres:postgres@127.0.0.1:{os.environ.get('CLUSTER_PRIMARY_PORT', '5440')}/notes"
)
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
SIZES = [int(size) for size in os.environ.get("SIZES", "10000 1000000").split()]
PARTS = os.environ.get("PARTS", "cost wal window sizes").split()


def sql(statement: str, params: list | None = None) -> list:
    with psycopg.connect(PRIMARY, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def archiving(on: bool) -> None:
    if on:
        sql("ALTER SYSTEM RESET archive_command")
        sql("ALTER SYSTEM RESET archive_timeout")
    else:
        sql("ALTER SYSTEM SET archive_command = 'true'")
        sql("ALTER SYSTEM SET archive_timeout = 0")
    sql("SELECT pg_reload_conf()")
    time.sleep(1)


def token() -> str:
    ((user_id,),) = sql(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,"
        " is_staff, is_active, date_joined) VALUES ('!', false, 'backups-' || md5(random()::text),"
        " '', '', '', false, true, now()) RETURNING id"
    )
    # The service stores a key's SHA-256 digest (notes/tokens/keys.py), never the key.
    key = f"notes_{secrets.token_hex(24)}"
    sql(
        "INSERT INTO notes_token (digest, hint, name, created, user_id) VALUES"
        " (encode(sha256(convert_to(%s, 'UTF8')), 'hex'), %s, '', now(), %s)",
        [key, f"notes_…{key[-4:]}", user_id],
    )
    return key


def load(key: str, method: str) -> float:
    """Requests per second from CLIENTS threads: creates, or each client replacing its own note."""
    done = [0] * CLIENTS
    stop = time.monotonic() + SECONDS
    notes = [
        row[0]
        for row in sql(
            "INSERT INTO notes (content) SELECT 'backup cost'"
            " FROM generate_series(1, %s) RETURNING id",
            [CLIENTS],
        )
    ]

    def client(n: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {key}"
            while time.monotonic() < stop:
                if method == "POST":
                    answer = session.post(f"{BALANCER}/api/notes/", json={"content": "backup cost"})
                else:
                    url = f"{BALANCER}/api/notes/{notes[n]}/"
                    answer = session.put(url, json={"content": f"backup cost {done[n]}"})
                assert answer.status_code in (200, 201), answer.text
                done[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / SECONDS


def paired_cost(key: str) -> None:
    for method in ("POST", "PUT"):
        rates: dict[bool, list[float]] = {True: [], False: []}
        for n in range(ROUNDS):
            for on in (True, False) if n % 2 == 0 else (False, True):
                archiving(on)
                rates[on].append(load(key, method))
        ratios = [off / on for on, off in zip(rates[True], rates[False], strict=True)]
        print(
            f"{method}: archiving on {statistics.median(rates[True]):.0f}/s, off "
            f"{statistics.median(rates[False]):.0f}/s; paired off/on median "
            f"{statistics.median(ratios):.3f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        )
    archiving(True)


def repository_bytes() -> int:
    return sum(
        path.stat().st_size for path in (BACKUP_DIR / "archive").rglob("*") if path.is_file()
    )


def wal_per_thousand_creates(key: str) -> None:
    """WAL records written (pg_stat_wal, without the padding of switched segments) and what
    the repository grew by (switched segments compress to almost nothing)."""
    sql("SELECT pg_switch_wal()")
    time.sleep(2)
    ((before,),) = sql("SELECT wal_bytes FROM pg_stat_wal")
    grown = repository_bytes()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Token {key}"
        for _ in range(1000):
            assert session.post(f"{BALANCER}/api/notes/", json={"content": "wal"}).ok
    ((written,),) = sql("SELECT wal_bytes - %s FROM pg_stat_wal", [before])
    sql("SELECT pg_switch_wal()")
    time.sleep(3)
    grown = repository_bytes() - grown
    print(
        f"1,000 creates: {written / 1024:.0f} KiB of WAL records;"
        f" the repository grew {grown / 1024:.0f} KiB"
    )


def loss_window(key: str, samples: int = 5) -> None:
    seconds = []
    query = "SELECT last_archived_wal >= pg_walfile_name(%s::pg_lsn) FROM pg_stat_archiver"
    for _ in range(samples):
        requests.post(
            f"{BALANCER}/api/notes/",
            json={"content": "window"},
            headers={"Authorization": f"Token {key}"},
        )
        ((position,),) = sql("SELECT pg_current_wal_lsn()::text")
        written = time.monotonic()
        if not until(lambda at=position: sql(query, [at])[0][0], timeout=120, step=0.05):
            raise RuntimeError(f"the WAL at {position} was not archived within 120 s")
        seconds.append(time.monotonic() - written)
    print(
        f"a write archived after {min(seconds):.1f}-{max(seconds):.1f} s"
        f" ({samples} writes, no other load)"
    )


def timed(*command: str) -> float:
    started = time.monotonic()
    subprocess.run(
        command, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "CONFIRM": "yes"}
    )
    return time.monotonic() - started


def backup_and_restore() -> None:
    env = dict(line.split("=", 1) for line in (RUN_DIR / "instance.env").read_text().splitlines())
    for size in SIZES:
        (have,) = sql("SELECT count(*) FROM notes")[0]
        if have < size:
            subprocess.run(
                [sys.executable, "manage.py", "seed", "--fake", str(size - have)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                env={**os.environ, **env},
            )
        ((database,),) = sql("SELECT pg_size_pretty(pg_database_size('notes'))")
        backup = timed("make", "backup")
        restore = timed("make", "restore", "TARGET=latest")
        print(f"{size:,} notes ({database}): full backup {backup:.1f} s, restore {restore:.1f} s")


def main() -> None:
    key = token()
    try:
        if "cost" in PARTS:
            paired_cost(key)
        if "wal" in PARTS:
            wal_per_thousand_creates(key)
        if "window" in PARTS:
            loss_window(key)
    finally:
        archiving(True)
        sql("DELETE FROM notes WHERE content IN ('backup cost', 'wal', 'window')")
    if "sizes" in PARTS:
        backup_and_restore()


if __name__ == "__main__":
    main()
