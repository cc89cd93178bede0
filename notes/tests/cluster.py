"""Driving deploy/cluster/cluster.sh from the tests: the cluster, its parts, and loads on it."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from conftest import BASE_DIR, TEST_REDIS_URL
from harness.wait import until

SCRIPT = BASE_DIR / "deploy" / "cluster" / "cluster.sh"
RUN_DIR = Path("/tmp/notes-cluster")
PRIMARY_PORT, REPLICA_PORT, PGBOUNCER_PORT, BALANCER_PORT = 5442, 5443, 6432, 8080
BALANCER = f"http://127.0.0.1:{BALANCER_PORT}"
PGBOUNCER_URL = f"postgres://postgres:postgres@127.0.0.1:{PGBOUNCER_PORT}"
PRIMARY_URL = f"postgres://postgres:postgres@127.0.0.1:{PRIMARY_PORT}"
ANON_RATE = 100
MAX_LAG = 5
ENV = {
    **os.environ,
    "CLUSTER_PYTHON": sys.executable,
    "CLUSTER_RUN_DIR": str(RUN_DIR),
    "CLUSTER_REDIS_URL": TEST_REDIS_URL,
    # A daily window, so no window boundary falls inside the rate-limit test.
    "NOTES_THROTTLE_ANON": f"{ANON_RATE}/day",
    "NOTES_THROTTLE_USER": "1000000/minute",
    "DATABASE_REPLICA_MAX_LAG": str(MAX_LAG),
    "DATABASE_REPLICA_CHECK_INTERVAL": "0.5",
}


class Cluster:
    """The running cluster: its script's commands, its databases and its balancer."""

    def script(self, *args, timeout=180):
        result = subprocess.run(
            ["bash", str(SCRIPT), *args], env=ENV, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"cluster.sh {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def sql(self, port, query, params=(), dbname="notes"):
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password="postgres",
            dbname=dbname,
            autocommit=True,
        ) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else None

    def user_token(self, name):
        """A user and its token, written on the primary (never through the API)."""
        key = secrets.token_hex(20)
        ((user_id,),) = self.sql(
            PRIMARY_PORT,
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " VALUES ('!', false, %s, '', '', '', false, true, now()) RETURNING id",
            [f"{name}-{secrets.token_hex(4)}"],
        )
        self.sql(
            PRIMARY_PORT,
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s)",
            [key, user_id],
        )
        return {"Authorization": f"Token {key}"}

    def replicated(self, note_id):
        query = "SELECT 1 FROM notes WHERE id = %s"
        return until(lambda: bool(self.sql(REPLICA_PORT, query, [note_id])), timeout=10)

    def caught_up(self):
        """Commit on the primary, then wait until the replica has replayed it.

        The replica's lag is the age of the last transaction it replayed, so a
        test that pauses it starts the clock here, not at some earlier test's write.
        """
        self.sql(PRIMARY_PORT, "SELECT txid_current()")
        ((flushed,),) = self.sql(PRIMARY_PORT, "SELECT pg_current_wal_flush_lsn()::text")
        query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
        assert until(lambda: self.sql(REPLICA_PORT, query, [flushed])[0][0], timeout=10)

    @contextmanager
    def replay_paused(self):
        self.sql(REPLICA_PORT, "SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            self.sql(REPLICA_PORT, "SELECT pg_wal_replay_resume()")

    def pg_ctl(self, name, action):
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action]
        subprocess.run([*command, *(["-m", "fast"] if action == "stop" else [])], check=True)

    def haproxy(self, command):
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(RUN_DIR / "haproxy.sock"))
            admin.sendall(command.encode() + b"\n")
            return admin.makefile().read()

    def server_status(self, n):
        for line in self.haproxy("show stat").splitlines():
            fields = line.split(",")
            if fields[:2] == ["instances", f"app{n}"]:
                return fields[17]
        return None

    def restart(self, n):
        self.script("app-start", str(n))
        assert until(lambda: self.server_status(n) == "UP", timeout=20), self.server_status(n)

    def kill(self, n):
        """SIGKILL instance n whole, master and workers, as if its machine died."""
        pid = int((RUN_DIR / f"app{n}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)


@contextmanager
def slow_clients(count):
    """Clients that sent part of their request headers and are still sending the rest."""
    sockets = []
    try:
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", BALANCER_PORT))
            client.sendall(b"GET /api/notes/ HTTP/1.1\r\nHost: localhost\r\n")
            sockets.append(client)
        time.sleep(0.5)
        for client in sockets:
            client.sendall(b"X-Still-Typing: 1\r\n")
        yield sockets
    finally:
        for client in sockets:
            client.close()
