"""Driving deploy/cluster/cluster.sh from the tests: the cluster, its parts, and loads on it.

Ports and the run directory are cluster.sh's defaults unless the environment names
others (the same CLUSTER_* variables cluster.sh reads, which it inherits from here).
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from conftest import BASE_DIR
from harness.load import Reads
from harness.server import children_of
from harness.wait import until
from notes.tests.redis_server import RedisServer
from notes.tokens.keys import KEY_PREFIX, KEY_RANDOM_BYTES, key_digest, key_hint


def ports(name, default):
    return [int(port) for port in os.environ.get(name, default).split()]


SCRIPT = BASE_DIR / "deploy" / "cluster" / "cluster.sh"
RUN_DIR = Path(os.environ.get("CLUSTER_RUN_DIR", "/tmp/notes-cluster"))
# The tests' own backup repository, emptied before and after each module's cluster.
BACKUP_DIR = Path(os.environ.get("CLUSTER_TEST_BACKUP_DIR", "/tmp/notes-cluster-backups"))
ARCHIVE_TIMEOUT = 10
(BALANCER_PORT,) = ports("CLUSTER_BALANCER_PORT", "8080")
APP_PORTS = ports("CLUSTER_APP_PORTS", "8001 8002")
(PGBOUNCER_PORT,) = ports("CLUSTER_PGBOUNCER_PORT", "6432")
# The cluster's Redis, the tests' own, so that a test can pause it, lose it and start it.
(REDIS_PORT,) = ports("CLUSTER_TEST_REDIS_PORT", "6390")
REDIS = RedisServer(REDIS_PORT)
# HAProxy's PostgreSQL frontends: whichever member leads, and whichever replicates.
(PRIMARY_PORT,) = ports("CLUSTER_PRIMARY_PORT", "5440")
(REPLICA_PORT,) = ports("CLUSTER_REPLICA_PORT", "5441")
# The members under Patroni, pg1 and pg2: their PostgreSQL and Patroni's REST API.
MEMBERS = dict(
    zip(
        ("pg1", "pg2"),
        zip(
            ports("CLUSTER_MEMBER_PORTS", "5442 5443"),
            ports("CLUSTER_PATRONI_PORTS", "8008 8009"),
            strict=True,
        ),
        strict=True,
    )
)
BALANCER = f"http://127.0.0.1:{BALANCER_PORT}"
PGBOUNCER_URL = f"postgres://postgres:postgres@127.0.0.1:{PGBOUNCER_PORT}"
PRIMARY_URL = f"postgres://postgres:postgres@127.0.0.1:{PRIMARY_PORT}"
ANON_RATE = 100
MAX_LAG = 5
ENV = {
    **os.environ,
    "CLUSTER_PYTHON": sys.executable,
    "CLUSTER_RUN_DIR": str(RUN_DIR),
    "CLUSTER_REDIS_URL": REDIS.url,
    "CLUSTER_BACKUP_DIR": str(BACKUP_DIR),
    "CLUSTER_ARCHIVE_TIMEOUT": str(ARCHIVE_TIMEOUT),
    # A daily window, so no window boundary falls inside the rate-limit test.
    "NOTES_THROTTLE_ANON": f"{ANON_RATE}/day",
    "NOTES_THROTTLE_USER": "1000000/minute",
    "DATABASE_REPLICA_MAX_LAG": str(MAX_LAG),
    "DATABASE_REPLICA_CHECK_INTERVAL": "0.5",
    # Longer than a failover and a rejoin take, so a user's write before them still pins.
    "DATABASE_REPLICA_PIN_SECONDS": "300",
    # Every request with a token reads it (none is remembered), as a token not used lately
    # is: the failover's token reads then show where authentication reads.
    "TOKEN_CACHE_SECONDS": "0",
}


def database_url(port, dbname="notes"):
    return f"postgres://postgres:postgres@127.0.0.1:{port}/{dbname}"


class Cluster:
    """The running cluster: its script's commands, its databases and its balancer."""

    def script(self, *args, timeout=180, env=None):
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            env={**ENV, "CONFIRM": "yes", **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"cluster.sh {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def make(self, *args, timeout=900):
        """A make target of the cluster's, as an operator runs it, never asking on a terminal."""
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=BASE_DIR,
            env={**ENV, "CONFIRM": "yes"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @contextmanager
    def running(self, logs):
        """The cluster, up with an empty backup repository; then stopped, its repository deleted."""
        self.script("backup-delete")
        REDIS.start()
        try:
            self.script("up", timeout=600)
            yield self
        finally:
            self.keep_logs(logs)
            self.script("down")
            self.script("backup-delete")
            REDIS.stop()

    def backups(self):
        """The repository's backups, oldest first (pgBackRest's info)."""
        config = RUN_DIR / "pg1" / "pgbackrest.conf"
        command = ["pgbackrest", f"--config={config}", "--stanza=notes", "info", "--output=json"]
        as_postgres = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups"]
        result = subprocess.run(
            [*as_postgres, *command], capture_output=True, text=True, check=True
        )
        return json.loads(result.stdout)[0]["backup"]

    def keep_logs(self, destination):
        """Every part's log, copied before `down` deletes the run directory (kept as they
        are when a stop deleted it already)."""
        if not RUN_DIR.exists():
            return
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        logs = [*RUN_DIR.glob("*.log"), *RUN_DIR.glob("*/*.log"), *RUN_DIR.glob("pg*/data/log/*")]
        for log in logs:
            shutil.copy(log, destination / "-".join(log.relative_to(RUN_DIR).parts))

    def sql(self, port, query, params=(), dbname="notes"):
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=3,
        ) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else None

    # --- the members, as Patroni sees them ---------------------------------------------

    def members(self):
        """Patroni's GET /cluster, from the first member that answers: name -> member."""
        for _, api in MEMBERS.values():
            try:
                answer = requests.get(f"http://127.0.0.1:{api}/cluster", timeout=2)
            except requests.RequestException:
                continue
            return {member["name"]: member for member in answer.json()["members"]}
        return {}

    def leader(self):
        """The name of the member that leads, or None."""
        return next((m["name"] for m in self.members().values() if m["role"] == "leader"), None)

    def replica(self):
        """The name of a member that replicates, or None."""
        roles = {"replica", "sync_standby"}
        return next((m["name"] for m in self.members().values() if m["role"] in roles), None)

    @property
    def primary_port(self):
        return MEMBERS[self.leader()][0]

    @property
    def replica_port(self):
        return MEMBERS[self.replica()][0]

    def patronictl(self, *args):
        config = RUN_DIR / "pg1" / "patroni.yml"
        command = ["patronictl", "-c", str(config), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"patronictl {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def machine(self, member):
        """The member's Patroni, its postmaster and the postmaster's children, as pids."""
        patroni = int((RUN_DIR / f"{member}.pid").read_text())
        postmaster = int((RUN_DIR / member / "data" / "postmaster.pid").read_text().split()[0])
        return [patroni, postmaster], children_of(postmaster)

    def signal_machine(self, member, signum):
        """Send `signum` to every process of the member's machine; returns them. Patroni and
        the postmaster must be there; a child (an autovacuum worker, a backend) may have ended
        on its own since it was listed."""
        leaders, children = self.machine(member)
        for pid in leaders:
            os.kill(pid, signum)
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)
        return [*leaders, *children]

    def lose(self, member):
        """SIGKILL the member's Patroni and its PostgreSQL, every process: its machine is lost."""
        self.signal_machine(member, signal.SIGKILL)

    @contextmanager
    def hung(self, member):
        """The member's machine frozen, not dead: its Patroni, its PostgreSQL and every one of
        its processes SIGSTOPped, then SIGCONTed."""
        frozen = self.signal_machine(member, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in frozen:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def streaming(self):
        """The members streaming from the leader, and how (pg_stat_replication)."""
        query = "SELECT application_name, state, sync_state FROM pg_stat_replication"
        return self.sql(self.primary_port, query)

    def whole(self, timeout=90):
        """Whether, within `timeout`, every member runs and one streams as the sync standby."""

        def synchronous():
            members = self.members()
            if len(members) < len(MEMBERS):
                return False
            if any(member["state"] != "running" for member in members.values()):
                return False
            standby = [name for name, m in members.items() if m["role"] == "sync_standby"]
            try:
                return bool(standby) and (standby[0], "streaming", "sync") in self.streaming()
            except (KeyError, psycopg.Error):  # no leader yet, or it does not answer yet
                return False

        return until(synchronous, timeout=timeout, step=0.25)

    # --- the data ----------------------------------------------------------------------

    def user_token(self, name):
        """A user and its token, written on the primary (never through the API)."""
        key = KEY_PREFIX + secrets.token_hex(KEY_RANDOM_BYTES)
        ((user_id,),) = self.sql(
            PRIMARY_PORT,
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " VALUES ('!', false, %s, '', '', '', false, true, now()) RETURNING id",
            [f"{name}-{secrets.token_hex(4)}"],
        )
        self.sql(
            PRIMARY_PORT,
            "INSERT INTO notes_token (digest, hint, name, created, user_id)"
            " VALUES (%s, %s, '', now(), %s)",
            [key_digest(key), key_hint(key), user_id],
        )
        return {"Authorization": f"Token {key}"}

    def user_with_password(self, name):
        """A user who logs in with a password, written on the primary: (username, password)."""
        username, password = f"{name}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        # Django's own hasher, with few rounds: the instances check it (and upgrade it).
        encoded = PBKDF2PasswordHasher().encode(password, secrets.token_hex(8), iterations=1000)
        self.sql(
            PRIMARY_PORT,
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " VALUES (%s, false, %s, '', '', '', false, true, now())",
            [encoded, username],
        )
        return username, password

    def lag(self):
        """Seconds the replica is behind, by its own clock: since the last change it replayed."""
        query = "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
        return self.sql(self.replica_port, query)[0][0]

    def replicated(self, note_id):
        query = "SELECT 1 FROM notes WHERE id = %s"
        return until(lambda: bool(self.sql(self.replica_port, query, [note_id])), timeout=10)

    def caught_up(self):
        """Commit on the primary, then wait until the replica has replayed it.

        The replica's lag is the age of the last transaction it replayed, so a
        test that pauses it starts the clock here, not at some earlier test's write.
        The transaction writes WAL (a message), so its commit is flushed at once: one
        that writes nothing is committed asynchronously, and could still be on its way.
        """
        self.sql(self.primary_port, "SELECT pg_logical_emit_message(true, 'notes-tests', 'now')")
        ((flushed,),) = self.sql(self.primary_port, "SELECT pg_current_wal_flush_lsn()::text")
        query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
        assert until(lambda: self.sql(self.replica_port, query, [flushed])[0][0], timeout=10)

    @contextmanager
    def replay_paused(self):
        """The replica, caught up, receives (and, synchronously, confirms) the WAL from here
        on, but applies none of it.

        In Patroni's maintenance mode: otherwise Patroni resumes a paused replay
        within a round of its loop.
        """
        port = self.replica_port
        self.patronictl("pause", "--wait")
        try:
            self.caught_up()
            self.sql(port, "SELECT pg_wal_replay_pause()")
            yield
        finally:
            self.sql(port, "SELECT pg_wal_replay_resume()")
            self.patronictl("resume", "--wait")

    @contextmanager
    def standby_frozen(self):
        """The synchronous standby stops confirming (its WAL receiver SIGSTOPped), while
        Patroni, paused, keeps naming it: every commit on the primary waits."""
        ((receiver,),) = self.sql(self.replica_port, "SELECT pid FROM pg_stat_wal_receiver")
        self.patronictl("pause", "--wait")
        os.kill(receiver, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(receiver, signal.SIGCONT)
            self.patronictl("resume", "--wait")

    def waiting_for_the_standby(self):
        """The primary's sessions whose commit waits for the synchronous standby."""
        query = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
        return [pid for (pid,) in self.sql(self.primary_port, query)]

    # --- the balancer and the instances ------------------------------------------------

    def haproxy(self, command):
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(RUN_DIR / "haproxy.sock"))
            admin.sendall(command.encode() + b"\n")
            return admin.makefile().read()

    def server_status(self, n, backend="instances", server=None):
        for line in self.haproxy("show stat").splitlines():
            fields = line.split(",")
            if fields[:2] == [backend, server or f"app{n}"]:
                return fields[17]
        return None

    def backend_sessions(self, backend):
        """The sessions HAProxy has open to a backend's servers now."""
        for line in self.haproxy("show stat").splitlines():
            fields = line.split(",")
            if fields[:2] == [backend, "BACKEND"]:
                return int(fields[4])
        raise AssertionError(f"no backend {backend}")

    def restart(self, n):
        self.script("app-start", str(n))
        assert until(lambda: self.server_status(n) == "UP", timeout=20), self.server_status(n)

    @contextmanager
    def private_instance(self, n):
        """Instance n restarted with NOTES_PUBLIC_READ=false and taken out of the balancer:
        yields its own address."""
        self.script("drain", str(n))
        self.script("app-start", str(n), env={"NOTES_PUBLIC_READ": "false"})
        for backend in ("instances", "instances_live"):
            self.haproxy(f"set server {backend}/app{n} state maint")
        try:
            yield f"http://127.0.0.1:{APP_PORTS[n - 1]}"
        finally:
            self.script("drain", str(n))
            self.restart(n)

    def kill(self, n):
        """SIGKILL instance n whole, master and workers, as if its machine died."""
        pid = int((RUN_DIR / f"app{n}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)


class AnonymousReads(Reads):
    """Anonymous GETs of `paths`, each from a loopback address of its own.

    So many readers that the cluster's anonymous rate (ANON_RATE a day per
    address, which the rate-limit test needs low) never limits the load.
    """

    def request(self, session, client, i):
        source = f"127.{100 + client}.{i // 250 % 250}.{i % 250 + 1}"
        conn = http.client.HTTPConnection("127.0.0.1", BALANCER_PORT, 10, (source, 0))
        try:
            conn.request("GET", self.paths[i % len(self.paths)])
            response = conn.getresponse()
            response.read()
        except OSError as exc:
            self.record(client, type(exc).__name__)
        else:
            self.record(client, response.status, None, response.getheader("Retry-After"))
        finally:
            conn.close()


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
