"""Contract, More than one machine and Losing the primary: HAProxy, stateless instances,
PgBouncer, a replica, and Patroni's failover.

One cluster (deploy/cluster/cluster.sh, as `make cluster` starts it) serves the
module, on 127.0.0.1: an etcd of three members, two PostgreSQL members under
Patroni (a primary and its synchronous replica), PgBouncer, two instances and
HAProxy; it is dropped at the end. Every request goes through the balancer, so
consecutive requests land on different instances. The tests that lose the
primary come last: they leave another member leading.
"""

import http.client
import itertools
import json
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import pytest
import requests
from django.db.migrations.loader import MigrationLoader

from conftest import BASE_DIR, TEST_REDIS_URL
from harness.ledger import Check, Ledger, check, sends_now
from harness.load import KeyedWrites, Outcome, Reads
from harness.wait import until
from notes import sql
from notes.tests.cluster import (
    ANON_RATE,
    APP_PORTS,
    BALANCER,
    BALANCER_PORT,
    ENV,
    MAX_LAG,
    MEMBERS,
    PGBOUNCER_PORT,
    PGBOUNCER_URL,
    PRIMARY_PORT,
    PRIMARY_URL,
    REDIS,
    RUN_DIR,
    AnonymousReads,
    Cluster,
    database_url,
    slow_clients,
)
from notes.tests.shell_blocks import marked_for, run
from notes.tokens.keys import key_digest

# One cluster on fixed ports: under pytest-xdist, every test of it in one worker
# (make test runs this module on its own, after the rest).
pytestmark = pytest.mark.xdist_group("cluster")

# The endpoints' own tests, run again through PgBouncer, with DATABASE_URL the one setting
# changed. Left out: what does not talk to the database through the app (install, deploy,
# docs, browser and CORS pages, logs, the generated client), and what checks the timeouts
# the app sends or kills connections, which PgBouncer refuses or pools by design (behind
# it, its connect_query sets the timeouts; test_pgbouncer.py runs the same without a cluster).
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


@pytest.fixture(autouse=True)
def rate_limit_store():
    """The suite's fixture of this name empties TEST_REDIS_URL before every test. Here the
    store is the cluster's own, and what the instances keep in it (a user's write
    positions) must outlive a test: only the anonymous clients' counts are cleared."""
    store = REDIS.client()
    for key in store.scan_iter("notes:throttle_anon_*"):
        store.delete(key)


LOGS = BASE_DIR / "test-artifacts" / "cluster"


@pytest.fixture(scope="module")
def cluster():
    with Cluster().running(LOGS) as cluster:
        yield cluster


READS = ["/api/notes/?page_size=5", "/api/notes/1/"]


def create(auth, content):
    response = requests.post(f"{BALANCER}/api/notes/", json={"content": content}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def read(note_id, auth=None):
    return requests.get(f"{BALANCER}/api/notes/{note_id}/", headers=auth or {})


def test_a_write_through_the_balancer_lands_on_the_primary_and_replicates(cluster):
    note_id = create(cluster.user_token("writer"), "through the balancer")

    query = "SELECT content FROM notes WHERE id = %s"
    stored = cluster.sql(cluster.primary_port, query, [note_id])
    assert stored == [("through the balancer",)]
    assert cluster.replicated(note_id)


def test_a_replays_wait_for_the_standby_is_refused_in_recovery_as_a_write_is(cluster):
    # A replayed write's commit waits for the standby (services.wait_replicated). Sent to
    # a member in recovery, as a just-demoted one is, its statements must fail as a write
    # does (read_only_sql_transaction: 503, retry) rather than with an internal error (500).
    first, *_ = sql.WAIT_REPLICATED
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        cluster.sql(cluster.replica_port, first)


def runbook(command):
    """docs/cluster.md's block that holds `command`: the blocks run here, as written."""
    (block,) = [b for b in marked_for("notes/tests/test_cluster.py") if command in b.text]
    return block


def test_the_runbooks_rolling_restart_member_restart_and_switchover_run_as_written(cluster):
    # docs/cluster.md, on the new cluster (pg1 leads, as the runbook's switchover says).
    block = runbook("switchover")
    assert cluster.leader() == "pg1"

    done = run([block], env=ENV)

    assert done.returncode == 0, done.report()
    assert "pg1" in done.output_of("cluster.sh status")
    assert until(lambda: cluster.leader() == "pg2", timeout=30)
    assert cluster.whole()
    assert until(lambda: {cluster.server_status(n) for n in (1, 2)} == {"UP"}, timeout=20)


def test_anonymous_reads_come_from_the_replica_until_it_falls_too_far_behind(cluster):
    auth = cluster.user_token("writer")
    with cluster.replay_paused():
        note_id = create(auth, "not on the replica yet")

        # One read per worker and more: the replica, which lacks the note, answers them all,
        # while it is less than MAX_LAG seconds behind by its own clock.
        assert [read(note_id).status_code for _ in range(8)] == [404] * 8
        assert cluster.lag() < MAX_LAG
        # Once the replica is more than MAX_LAG seconds behind, reads go to the primary.
        # (Polled gently: anonymous reads count against the anonymous rate.)
        assert until(lambda: read(note_id).status_code == 200, timeout=MAX_LAG + 5, step=0.25)
        assert cluster.lag() > MAX_LAG


def test_with_replay_paused_a_user_reads_every_one_of_its_own_creates_and_edits(cluster):
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


def test_reads_and_writes_keep_answering_with_the_replica_stopped(cluster):
    auth = cluster.user_token("reader")
    note_id = create(auth, "read me anyway")
    assert cluster.replicated(note_id)
    replica = cluster.replica()

    # Its Patroni stops its PostgreSQL; the primary stops waiting for it.
    cluster.script("member-stop", replica[-1])
    try:
        statuses = {read(note_id).status_code for _ in range(10)}
        statuses |= {read(note_id, auth).status_code for _ in range(10)}
        statuses |= {requests.get(f"{BALANCER}/api/notes/").status_code for _ in range(10)}
        later = create(auth, "written while the replica is away")
        assert read(later, auth).status_code == 200
    finally:
        cluster.script("member-start", replica[-1])
    assert statuses == {200}
    assert cluster.whole()
    assert cluster.replicated(later)


def test_a_write_whose_wait_for_the_standby_is_cancelled_is_never_answered_2xx(cluster):
    writer = cluster.user_token("writer")
    key = f"cancelled-{secrets.token_hex(4)}"

    def post():
        headers = {**writer, "Idempotency-Key": key}
        body = {"content": f"keyed {key}"}
        return requests.post(f"{BALANCER}/api/notes/", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(2) as pool, cluster.standby_frozen():
        first = pool.submit(post)
        assert until(cluster.waiting_for_the_standby)
        # An operator's cancel of a "stuck" commit: PostgreSQL commits locally and warns.
        (waiting,) = cluster.waiting_for_the_standby()
        cluster.sql(cluster.primary_port, "SELECT pg_cancel_backend(%s)", [waiting])
        cancelled = first.result()
        # Its retry waits, too, for as long as the standby does not confirm.
        retry = pool.submit(post)
        assert until(cluster.waiting_for_the_standby)
        assert not retry.done()
    replayed = retry.result()

    assert cancelled.status_code == 503, cancelled.text
    assert cancelled.json()["error"]["code"] == "not_replicated"
    assert int(cancelled.headers["Retry-After"]) >= 1
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    query = "SELECT count(*) FROM notes WHERE content = %s"
    assert cluster.sql(cluster.primary_port, query, [f"keyed {key}"]) == [(1,)]
    assert cluster.whole()


def longest_wait(acknowledged, since):
    """The longest time from `since` on with no write acknowledged."""
    times = sorted([since, *(write.at for write in acknowledged if write.at > since)])
    return max(later - earlier for earlier, later in itertools.pairwise(times))


def test_a_hung_standby_stalls_writes_for_seconds_and_loses_nothing(cluster):
    assert cluster.whole()
    writer = cluster.user_token("writer")
    targets = keyed_targets(writer)
    sends_before = sends_now(f"{PRIMARY_URL}/notes")
    standby = cluster.replica()

    with KeyedWrites(BALANCER, writer, targets, count=4) as writes:
        with cluster.hung(standby):
            hung_at = time.monotonic()
            # The primary stops waiting for it: every writer is acknowledged again.
            assert writes.wait_for(5, ok={200, 201}, timeout=60)
            stall = longest_wait(writes.acknowledged, hung_at)
        assert cluster.whole()  # caught up: the synchronous standby again
        assert writes.wait_for(5, ok={200, 201}, timeout=60)

    print(f"a hung standby stalled writes for {stall:.1f} s")
    result = check(f"{PRIMARY_URL}/notes", Ledger.of(writes.acknowledged), "keyed %", sends_before)
    assert stall < 15
    assert result.lost == []
    assert result.duplicated == []
    assert {o.status for o in failures(writes)} <= {503, 409}
    assert cluster.members()[standby]["role"] == "sync_standby"


def content_read_by(auth, note_id, times=8):
    """What `times` reads through the balancer answer: both instances, several workers."""
    return [read(note_id, auth).json()["data"]["content"] for _ in range(times)]


def replicated_note(cluster, auth):
    note_id = create(auth, "v1")
    assert content_read_by(auth, note_id, 2) == ["v1"] * 2  # and the pins are trusted
    assert cluster.replicated(note_id)
    return note_id, f"{BALANCER}/api/notes/{note_id}/"


def the_replica_served(cluster, note_id):
    """The replica, less than MAX_LAG behind, still serves others: it has "v1"."""
    return read(note_id).json()["data"]["content"] == "v1" and cluster.lag() < MAX_LAG


def test_a_write_whose_pin_redis_could_not_keep_is_read_back_from_the_primary(cluster):
    """Without UnpinnedWrite (notes.pins), the replica answers "v1" after the edit."""
    auth = cluster.user_token("unpinned")
    note_id, url = replicated_note(cluster, auth)
    with cluster.replay_paused():
        # Redis pauses while the user edits: the edit succeeds, its pin is not recorded.
        REDIS.pause()
        try:
            edited = requests.patch(url, json={"content": "v2"}, headers=auth, timeout=30)
        finally:
            REDIS.resume()
        # The gap the docs state: until each instance's next replica check.
        time.sleep(float(ENV["DATABASE_REPLICA_CHECK_INTERVAL"]))
        after = content_read_by(auth, note_id)
        assert the_replica_served(cluster, note_id)
    assert edited.status_code == 200
    assert after == ["v2"] * 8


def test_a_redis_lost_after_pinning_an_edit_comes_back_empty_and_the_edit_is_read(cluster):
    """Without the check of Redis's marker (notes.pins), the replica answers "v1"."""
    auth = cluster.user_token("forgotten")
    note_id, url = replicated_note(cluster, auth)
    with cluster.replay_paused():
        edited = requests.patch(url, json={"content": "v2"}, headers=auth, timeout=30)
        REDIS.stop()
        REDIS.start()
        after = content_read_by(auth, note_id)
        assert the_replica_served(cluster, note_id)
    assert edited.status_code == 200
    assert after == ["v2"] * 8


def test_with_redis_lost_and_back_keyed_writes_and_reads_with_a_token_go_on(cluster):
    writer, reader = cluster.user_token("writer"), cluster.user_token("reader")
    targets = keyed_targets(writer)
    sends_before = sends_now(f"{PRIMARY_URL}/notes")
    with (
        KeyedWrites(BALANCER, writer, targets, count=3) as writes,
        Reads(BALANCER, reader, READS, count=2) as reads,
    ):
        REDIS.stop()
        for load in (writes, reads):
            assert load.wait_for(5, ok={200, 201}, timeout=60)
        REDIS.start()
        for load in (writes, reads):
            assert load.wait_for(5, ok={200, 201}, timeout=60)

    result = check(f"{PRIMARY_URL}/notes", Ledger.of(writes.acknowledged), "keyed %", sends_before)
    assert (result.lost, result.duplicated) == ([], [])
    assert writes.given_up == []
    assert failures(writes) == []
    assert reads.failures(ok={200}) == []
    # Back, and keeping the users' pins again.
    assert until(lambda: any(REDIS.client().scan_iter("notes:replica:written:*")), timeout=10)


def test_the_api_test_suite_passes_through_pgbouncer_in_transaction_mode(cluster):
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"},
        # Nothing else: the app finds the pooler by itself (test_pgbouncer.py).
        "DATABASE_URL": f"{PGBOUNCER_URL}/notes_pooled",
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
        ready = requests.get(f"{BALANCER}/health/ready", timeout=5)
        listing = requests.get(f"{BALANCER}/api/notes/", timeout=5)
        info = cluster.haproxy("show info")
        at_the_instances = cluster.backend_sessions("instances")

    assert ready.status_code == 200
    assert listing.status_code == 200
    # HAProxy holds the slow clients' connections, not the instances: none reached them.
    current = next(line for line in info.splitlines() if line.startswith("CurrConns:"))
    assert int(current.split(":")[1]) >= 200
    assert at_the_instances < 10


def test_a_login_session_made_on_one_instance_is_honoured_by_another(cluster):
    first, second = (f"http://127.0.0.1:{port}" for port in APP_PORTS)
    username, password = cluster.user_with_password("traveller")
    browser = requests.Session()
    browser.get(f"{first}/api-auth/login/")
    logged_in = browser.post(
        f"{first}/api-auth/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/api/notes/",
        },
        allow_redirects=False,
    )
    # The session, made on the first instance, writes through the second (with its CSRF token).
    written = browser.post(
        f"{second}/api/notes/",
        json={"content": "written with a session from another instance"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"]},
    )

    assert logged_in.status_code == 302, logged_in.text
    assert written.status_code == 201, written.text


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


# --- Losing the primary -------------------------------------------------------------------


@dataclass
class Failover:
    """The primary's machine lost under load: what the clients saw, and when."""

    lost: str  # the member that led, killed with its Patroni
    survivor: str
    leader_after: float  # seconds from the kill until the survivor led
    write_after: float  # seconds from the kill until a write through the balancer succeeded
    writes: KeyedWrites
    reads: AnonymousReads
    killed_at: float
    ledger: Check
    token_reads: Reads  # through the balancer: NOTES_PUBLIC_READ true
    private_reads: Reads  # at an instance of NOTES_PUBLIC_READ=false
    anonymous_private: int  # what that instance answered an anonymous read
    reader: dict[str, str]  # a user who wrote before the failover, and again after it
    before: int
    after: int
    rejoining: list[Outcome] = field(default_factory=list)


def failures(load):
    """What the load's clients got other than a success."""
    return [o for o in load.outcomes if o.status not in (200, 201)]


def first_write_after(auth, timeout=60):
    """When the first of creates sent one after another, from now on, was acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = requests.post(
                f"{BALANCER}/api/notes/", json={"content": "probe"}, headers=auth, timeout=10
            )
        except requests.RequestException:
            continue
        if answer.status_code == 201:
            return time.monotonic()
        time.sleep(0.05)
    return pytest.fail(f"no write was acknowledged within {timeout} s")


def keyed_targets(auth):
    return [create(auth, f"target {i}") for i in range(3)]


@pytest.fixture(scope="module")
def primary_lost(cluster):
    """Clients write (each write keyed, retried until acknowledged) and anonymous clients
    read through the balancer while the primary's PostgreSQL and Patroni are SIGKILLed."""
    assert cluster.whole()
    writer, reader = cluster.user_token("writer"), cluster.user_token("reader")
    targets = keyed_targets(writer)
    before = create(reader, "written before the failover")
    sends_before = sends_now(f"{PRIMARY_URL}/notes")
    lost = cluster.leader()
    (survivor,) = set(MEMBERS) - {lost}
    token_reader = cluster.user_token("token-reader")

    with (
        cluster.private_instance(2) as private,
        KeyedWrites(BALANCER, writer, targets, count=4) as writes,
        AnonymousReads(BALANCER, {}, READS, count=3) as reads,
        Reads(BALANCER, token_reader, READS, count=2) as token_reads,
        Reads(private, token_reader, READS, count=2) as private_reads,
    ):
        anonymous_private = requests.get(f"{private}/api/notes/").status_code
        killed_at = time.monotonic()
        cluster.lose(lost)
        with ThreadPoolExecutor(1) as probe:
            # A write sent after the kill can only succeed on a new primary. (The load's
            # own first success after the kill may be a write committed just before it.)
            written = probe.submit(first_write_after, writer)
            assert until(lambda: cluster.leader() == survivor, timeout=60, step=0.05)
            leader_after = time.monotonic() - killed_at
            write_after = written.result()
        # Every writer acknowledged again, several times, after the new leader took over.
        assert writes.wait_for(5, ok={200, 201}, timeout=60)
    after = create(reader, "written after the failover")

    ledger = Ledger.of(writes.acknowledged)
    return Failover(
        lost=lost,
        survivor=survivor,
        leader_after=leader_after,
        write_after=write_after - killed_at,
        writes=writes,
        reads=reads,
        killed_at=killed_at,
        ledger=check(database_url(MEMBERS[survivor][0]), ledger, "keyed %", sends_before),
        token_reads=token_reads,
        private_reads=private_reads,
        anonymous_private=anonymous_private,
        reader=reader,
        before=before,
        after=after,
    )


def test_losing_the_primarys_machine_a_replica_leads_and_writes_succeed_within_30_s(
    cluster, primary_lost
):
    print(
        f"new leader after {primary_lost.leader_after:.1f} s, "
        f"first write after {primary_lost.write_after:.1f} s"
    )
    assert cluster.leader() == primary_lost.survivor
    assert primary_lost.leader_after < 30
    assert primary_lost.write_after < 30
    assert MEMBERS[primary_lost.survivor][0] == cluster.primary_port


def test_every_write_acknowledged_across_the_failover_is_on_the_new_primary_exactly_once(
    primary_lost,
):
    assert primary_lost.ledger.lost == []
    assert primary_lost.ledger.duplicated == []
    assert primary_lost.writes.given_up == []
    assert len(primary_lost.writes.acknowledged) > 40


def test_while_the_primary_is_lost_writes_answer_503_with_retry_after_never_500(primary_lost):
    refused = failures(primary_lost.writes)

    assert refused, "the failover went unnoticed: no write was refused"
    seen = {(o.status, o.retry_after) for o in refused}
    assert {o.status for o in refused} <= {503, 409}, seen  # 409: the same key still running
    assert all(o.retry_after and int(o.retry_after) >= 1 for o in refused), seen


def test_while_the_primary_is_lost_anonymous_reads_keep_being_answered(primary_lost):
    reads = primary_lost.reads.outcomes
    in_the_gap = [
        o
        for o in reads
        if primary_lost.killed_at < o.at < primary_lost.killed_at + primary_lost.write_after
    ]

    assert [o for o in reads if o.status != 200] == []
    assert len(in_the_gap) > 20


@pytest.mark.parametrize("public_read", [True, False])
def test_while_the_primary_is_lost_reads_with_a_token_keep_being_answered(
    primary_lost, public_read
):
    load = primary_lost.token_reads if public_read else primary_lost.private_reads
    gap = (primary_lost.killed_at, primary_lost.killed_at + primary_lost.write_after)
    in_the_gap = [o for o in load.outcomes if gap[0] < o.at < gap[1]]

    assert [o for o in load.outcomes if o.status != 200] == []
    assert len(in_the_gap) > 5


def test_the_instance_of_notes_public_read_false_refused_anonymous_reads(primary_lost):
    assert primary_lost.anonymous_private == 401


def test_a_user_who_wrote_before_the_failover_reads_the_write_after_it(primary_lost):
    reader = primary_lost.reader

    assert read(primary_lost.before, reader).json()["data"]["content"] == (
        "written before the failover"
    )
    listed = requests.get(f"{BALANCER}/api/notes/?page_size=1000", headers=reader).json()
    assert {primary_lost.before, primary_lost.after} <= {note["id"] for note in listed["data"]}


def test_make_cluster_again_brings_the_lost_member_back_as_a_streaming_synchronous_replica(
    cluster, primary_lost
):
    paths = [f"/api/notes/{primary_lost.before}/", f"/api/notes/{primary_lost.after}/"]
    # The user's reads, all through the rejoin: never from a member that lacks their writes.
    with Reads(BALANCER, primary_lost.reader, paths, count=2) as rejoining:
        cluster.script("up", timeout=300)
        assert cluster.whole()
    primary_lost.rejoining.extend(rejoining.outcomes)

    member = cluster.members()[primary_lost.lost]
    assert member["role"] == "sync_standby"
    assert member["state"] == "running"
    assert (primary_lost.lost, "streaming", "sync") in cluster.streaming()
    assert cluster.leader() == primary_lost.survivor
    assert rejoining.failures(ok={200}) == []
    assert len(rejoining.outcomes) > 20


def test_once_the_rejoined_replica_caught_up_the_users_reads_go_back_to_it(cluster, primary_lost):
    assert cluster.replica() == primary_lost.lost
    reader = primary_lost.reader
    ((user_id,),) = cluster.sql(
        PRIMARY_PORT,
        "SELECT user_id FROM notes_token WHERE digest = %s",
        [key_digest(reader["Authorization"].split()[1])],
    )
    # The write after the failover still pins the user's reads (60 s)...
    pin = REDIS.client().get(f"notes:replica:written:{user_id}")
    assert pin is not None
    with cluster.replay_paused():
        ((unseen,),) = cluster.sql(
            PRIMARY_PORT, "INSERT INTO notes (content) VALUES ('not replayed yet') RETURNING id"
        )
        # ... yet the replica, which has replayed past it, serves them: the user is
        # not held on the primary (the replica lacks the newer note, so it answers 404).
        assert [read(unseen, reader).status_code for _ in range(8)] == [404] * 8
        assert read(primary_lost.after, reader).status_code == 200
    assert read(unseen, reader).status_code == 200


def test_a_planned_switchover_under_load_loses_nothing_and_duplicates_nothing(cluster):
    assert cluster.whole()
    writer = cluster.user_token("writer")
    targets = keyed_targets(writer)
    sends_before = sends_now(f"{PRIMARY_URL}/notes")
    leader, candidate = cluster.leader(), cluster.replica()

    with KeyedWrites(BALANCER, writer, targets, count=4) as writes:
        cluster.patronictl("switchover", "--leader", leader, "--candidate", candidate, "--force")
        assert until(lambda: cluster.leader() == candidate, timeout=30)
        assert writes.wait_for(5, ok={200, 201}, timeout=60)

    refused = [o.at for o in failures(writes)]
    print(f"switchover: writes refused for {max(refused) - min(refused):.1f} s" if refused else "")
    result = check(
        database_url(MEMBERS[candidate][0]), Ledger.of(writes.acknowledged), "keyed %", sends_before
    )
    assert result.lost == []
    assert result.duplicated == []
    assert writes.given_up == []
    assert {o.status for o in failures(writes)} <= {503, 409}
    assert len(writes.acknowledged) > 40
    # The former leader follows the new one, synchronously.
    assert cluster.whole()
    assert cluster.members()[leader]["role"] == "sync_standby"


def test_last_the_runbooks_first_block_answers_then_stops_the_cluster(cluster):
    # docs/cluster.md's first block: `make cluster` again keeps the running cluster, the
    # balancer and Patroni answer, and `make cluster-stop` stops it all (this module's last).
    cluster.keep_logs(LOGS)  # the stop deletes the run directory before the fixture's end
    done = run([runbook("make cluster-stop")], env=ENV)

    assert done.returncode == 0, done.report()
    assert json.loads(done.output_of("localhost:8080/api/notes/"))["data"]
    members = json.loads(done.output_of("localhost:8008/cluster"))["members"]
    assert {member["name"] for member in members} == set(MEMBERS)
    assert not RUN_DIR.exists()
    assert cluster.members() == {}
