"""Contract, More than one machine: HAProxy, stateless instances, PgBouncer and a replica.

One cluster (deploy/cluster/cluster.sh, as `make cluster` starts it) serves the
module, on 127.0.0.1: a primary and its streaming replica, PgBouncer, two
instances and HAProxy; it is dropped at the end. Every request goes through the
balancer, so consecutive requests land on different instances.
"""

import http.client
import os
import subprocess
import sys
import time

import pytest
import requests
from django.db.migrations.loader import MigrationLoader

from conftest import BASE_DIR, TEST_REDIS_URL
from harness.load import Reads
from harness.wait import until
from notes.tests.cluster import (
    ANON_RATE,
    BALANCER,
    BALANCER_PORT,
    ENV,
    MAX_LAG,
    PGBOUNCER_PORT,
    PGBOUNCER_URL,
    PRIMARY_PORT,
    PRIMARY_URL,
    Cluster,
    slow_clients,
)

# One cluster on fixed ports: under pytest-xdist, every test of it in one worker.
pytestmark = pytest.mark.xdist_group("cluster")

# The endpoints' own tests, run again through PgBouncer. Left out: what does not talk to
# the database through the app (install, deploy, docs, browser and CORS pages, logs, the
# generated client), and what sets libpq options or kills connections, which PgBouncer
# refuses or pools by design (behind it, its connect_query sets the timeouts).
POOLED = [
    "test_admin.py",
    "test_auth.py",
    "test_commands.py",
    "test_conditional.py",
    "test_crud.py",
    "test_envelope.py",
    "test_health.py",
    "test_hosts.py",
    "test_idempotency.py",
    "test_limits.py",
    "test_listing.py",
    "test_metrics.py",
    "test_original_design.py",
    "test_properties.py",
    "test_request_id.py",
    "test_schemathesis.py",
    "test_send.py",
    "test_token_cache.py",
    "test_validation.py",
]
# Ends its request's server connection, which through the pooler is a pooled one.
NOT_POOLED_TESTS = ["test_idempotency.py::test_a_request_killed_mid_way_leaves_its_key_free"]


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster()
    try:
        cluster.script("up", timeout=600)
        yield cluster
    finally:
        cluster.script("down")


READS = ["/api/notes/?page_size=5", "/api/notes/1/"]


def create(auth, content):
    response = requests.post(f"{BALANCER}/api/notes/", json={"content": content}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def read(note_id, auth=None):
    return requests.get(f"{BALANCER}/api/notes/{note_id}/", headers=auth or {})


def test_a_write_through_the_balancer_lands_on_the_primary_and_replicates(cluster):
    note_id = create(cluster.user_token("writer"), "through the balancer")

    stored = cluster.sql(PRIMARY_PORT, "SELECT content FROM notes WHERE id = %s", [note_id])
    assert stored == [("through the balancer",)]
    assert cluster.replicated(note_id)


def test_anonymous_reads_come_from_the_replica_until_it_falls_too_far_behind(cluster):
    auth = cluster.user_token("writer")
    cluster.caught_up()
    with cluster.replay_paused():
        paused = time.monotonic()
        note_id = create(auth, "not on the replica yet")

        # One read per worker and more: the replica, which lacks the note, answers them all.
        assert [read(note_id).status_code for _ in range(8)] == [404] * 8
        assert time.monotonic() - paused < MAX_LAG
        # Once the replica is more than MAX_LAG seconds behind, reads go to the primary.
        # (Polled gently: anonymous reads count against the anonymous rate.)
        assert until(lambda: read(note_id).status_code == 200, timeout=MAX_LAG + 5, step=0.25)
        assert time.monotonic() - paused > MAX_LAG - 1.5


def test_with_replay_paused_a_user_reads_every_one_of_its_own_creates_and_edits(cluster):
    cluster.caught_up()
    with cluster.replay_paused():
        # Made while the replica is paused: only the primary knows this token,
        # so every request below also shows that authentication reads the primary.
        auth = cluster.user_token("reader")
        ids = []
        for i in range(4):
            ids.append(create(auth, f"mine {i}"))
            assert read(ids[-1], auth).json()["data"]["content"] == f"mine {i}"
        assert read(ids[0]).status_code == 404  # others still read the paused replica

        for note_id in ids:
            url = f"{BALANCER}/api/notes/{note_id}/"
            assert requests.patch(url, json={"content": "patched"}, headers=auth).ok
            assert read(note_id, auth).json()["data"]["content"] == "patched"
            assert requests.put(url, json={"content": "replaced"}, headers=auth).ok
            assert read(note_id, auth).json()["data"]["content"] == "replaced"
        assert requests.post(f"{BALANCER}/api/notes/{ids[0]}/send/", headers=auth).ok
        assert read(ids[0], auth).json()["data"]["times_sent"] == 1
        listed = requests.get(f"{BALANCER}/api/notes/?page_size=1000", headers=auth).json()
        assert set(ids) <= {note["id"] for note in listed["data"]}
        assert requests.delete(f"{BALANCER}/api/notes/{ids[1]}/", headers=auth).status_code == 204
        assert read(ids[1], auth).status_code == 404
    assert cluster.replicated(ids[-1])


def test_reads_keep_answering_with_the_replica_stopped(cluster):
    auth = cluster.user_token("reader")
    note_id = create(auth, "read me anyway")
    assert cluster.replicated(note_id)

    cluster.pg_ctl("notes_replica", "stop")
    try:
        statuses = {read(note_id).status_code for _ in range(10)}
        statuses |= {read(note_id, auth).status_code for _ in range(10)}
        statuses |= {requests.get(f"{BALANCER}/api/notes/").status_code for _ in range(10)}
        later = create(auth, "written while the replica is away")
        assert read(later, auth).status_code == 200
    finally:
        cluster.pg_ctl("notes_replica", "start")
    assert statuses == {200}
    assert cluster.replicated(later)


def test_the_api_test_suite_passes_through_pgbouncer_in_transaction_mode(cluster):
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"},
        "DATABASE_URL": f"{PGBOUNCER_URL}/notes_pooled",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "true",
        # PgBouncer refuses libpq `options`; its connect_query sets the timeouts.
        "DATABASE_STATEMENT_TIMEOUT": "",
        "DATABASE_LOCK_TIMEOUT": "",
        "TEST_REDIS_URL": TEST_REDIS_URL,
    }
    deselected = [f"--deselect=notes/tests/{name}" for name in NOT_POOLED_TESTS]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reuse-db"]
    result = subprocess.run(
        [*command, *deselected, *(f"notes/tests/{name}" for name in POOLED)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
    pools = cluster.sql(PGBOUNCER_PORT, "SHOW POOLS", dbname="pgbouncer")
    assert ("test_notes_pooled", "transaction") in {(row[0], row[-1]) for row in pools}


def test_pgbouncer_pools_the_instances_and_opens_its_console_to_postgres(cluster):
    assert requests.get(f"{BALANCER}/api/notes/").status_code == 200

    pools = {row[0]: row for row in cluster.sql(PGBOUNCER_PORT, "SHOW POOLS", dbname="pgbouncer")}
    clients = cluster.sql(PGBOUNCER_PORT, "SHOW CLIENTS", dbname="pgbouncer")

    assert pools["notes"][1] == "postgres"
    assert pools["notes"][-1] == "transaction"
    assert any(client[2] == "notes" for client in clients)  # the instances' connections


def test_no_read_fails_while_an_instance_is_killed(cluster):
    auth = cluster.user_token("loader")
    try:
        with Reads(BALANCER, auth, READS) as load:
            cluster.kill(1)
            load.run_until(20, ok={200})
        assert load.failures(ok={200}) == []
        assert len(load.outcomes) > 100
        assert cluster.server_status(1) == "DOWN"
    finally:
        cluster.restart(1)


def test_no_read_fails_while_an_instance_is_drained_and_stopped(cluster):
    auth = cluster.user_token("loader")
    try:
        with Reads(BALANCER, auth, READS) as load:
            cluster.script("drain", "2")
            load.run_until(20, ok={200})
        assert load.failures(ok={200}) == []
        assert len(load.outcomes) > 100
        assert cluster.server_status(2) in {"DRAIN", "DOWN", "DOWN (drain)"}
    finally:
        cluster.restart(2)


def test_200_slow_clients_do_not_delay_readiness_through_the_balancer(cluster):
    with slow_clients(200):
        started = time.monotonic()
        ready = requests.get(f"{BALANCER}/health/ready", timeout=5)
        elapsed = time.monotonic() - started
        listing = requests.get(f"{BALANCER}/api/notes/", timeout=5)
        info = cluster.haproxy("show info")

    assert ready.status_code == 200
    assert elapsed < 1.0
    assert listing.status_code == 200
    # HAProxy holds the slow clients' connections, not the instances.
    current = next(line for line in info.splitlines() if line.startswith("CurrConns:"))
    assert int(current.split(":")[1]) >= 200


def test_rate_limits_count_the_real_client_not_the_balancer_or_an_invented_header(cluster):
    def get(source, forwarded_for):
        conn = http.client.HTTPConnection("127.0.0.1", BALANCER_PORT, 5, (source, 0))
        conn.request("GET", "/api/notes/?page_size=1", headers={"X-Forwarded-For": forwarded_for})
        status = conn.getresponse().status
        conn.close()
        return status

    # Each request claims another address; HAProxy appends the real one, which counts.
    one = [get("127.0.0.1", f"203.0.113.{i}") for i in range(ANON_RATE + 1)]
    another = get("127.0.0.2", "203.0.113.1")

    assert one == [200] * ANON_RATE + [429]
    assert another == 200


def test_three_migrates_at_once_on_a_fresh_database_apply_each_migration_once(cluster):
    cluster.sql(PRIMARY_PORT, "DROP DATABASE IF EXISTS notes_fresh WITH (FORCE)", dbname="postgres")
    cluster.sql(PRIMARY_PORT, "CREATE DATABASE notes_fresh TEMPLATE template0", dbname="postgres")
    env = {
        **ENV,
        "DATABASE_URL": f"{PGBOUNCER_URL}/notes_fresh",
        "DATABASE_DIRECT_URL": f"{PRIMARY_URL}/notes_fresh",
    }
    command = [sys.executable, "manage.py", "migrate", "--noinput"]
    runs = [
        subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=180)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    query = "SELECT app, name FROM django_migrations"
    applied = cluster.sql(PRIMARY_PORT, query, dbname="notes_fresh")
    assert len(set(applied)) == len(applied) == sum(out.count("Applying ") for out in outputs)
    assert len(applied) == len(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    # Over the direct connection: PgBouncer never opened a pool for that database.
    pools = cluster.sql(PGBOUNCER_PORT, "SHOW POOLS", dbname="pgbouncer")
    assert "notes_fresh" not in {row[0] for row in pools}
