"""Contract, Bringing it back: continuous archiving, backups and point-in-time recovery
(pgBackRest under Patroni), each proven by a restore checked write by write.

One cluster (deploy/cluster/cluster.sh, as `make cluster` starts it) with a backup
repository of its own serves the module; backups and restores go through `make`, as
an operator types them. The restores come in order: to a moment before an operator's
mistake, then after a failover, then after every member's data is gone.
"""

import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import BASE_DIR, gunicorn
from harness.ledger import Ledger, check, sends_now
from harness.load import KeyedWrites
from harness.server import free_port
from harness.wait import until
from notes.tests.cluster import (
    ARCHIVE_TIMEOUT,
    BACKUP_DIR,
    BALANCER,
    ENV,
    MEMBERS,
    PRIMARY_PORT,
    PRIMARY_URL,
    RUN_DIR,
    Cluster,
    database_url,
)
from notes.tests.shell_blocks import marked_for, run

pytestmark = pytest.mark.xdist_group("cluster")

# docs/backups.md: its blocks run here, as written, but for the moment a restore goes back to.
RUNBOOK_MOMENT = "2026-12-06 14:30:00+00:00"


def runbook(command):
    (block,) = [b for b in marked_for("notes/tests/test_backups.py") if command in b.text]
    return block


@pytest.fixture(scope="module")
def cluster():
    with Cluster().running(BASE_DIR / "test-artifacts" / "cluster-backups") as cluster:
        yield cluster


def create(auth, content):
    response = requests.post(f"{BALANCER}/api/notes/", json={"content": content}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def stored(cluster, content):
    query = "SELECT count(*) FROM notes WHERE content = %s"
    return cluster.sql(PRIMARY_PORT, query, [content])[0][0]


def restore(cluster, target):
    """`make restore TARGET=...`, which must succeed and leave the cluster whole."""
    done = cluster.make("restore", f"TARGET={target}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert cluster.whole()
    return done


def archived(cluster, position):
    """Whether the leader has archived the WAL segment holding `position`."""
    query = "SELECT last_archived_wal >= pg_walfile_name(%s::pg_lsn) FROM pg_stat_archiver"
    return cluster.sql(cluster.primary_port, query, [position])[0][0]


def postmaster_pid(member):
    return (RUN_DIR / member / "data" / "postmaster.pid").read_text().split()[0]


def test_the_cluster_comes_up_with_a_full_backup(cluster):
    (first,) = cluster.backups()

    assert first["type"] == "full"
    assert first["error"] is False


def test_the_runbooks_backup_takes_a_full_backup_then_verifies_and_lists_the_repository(
    cluster,
):
    before = {backup["label"] for backup in cluster.backups()}

    done = run([runbook("make backup")], env=ENV)

    assert done.returncode == 0, done.report()
    (taken,) = [b for b in cluster.backups() if b["label"] not in before]
    assert taken["type"] == "full"
    assert f"full backup: {taken['label']}" in done.output_of("make backups")


def test_make_backup_takes_a_backup_then_checks_and_lists_the_repository(cluster):
    before = {backup["label"] for backup in cluster.backups()}

    done = cluster.make("backup", "TYPE=incr")

    assert done.returncode == 0, done.stdout + done.stderr
    (taken,) = [b for b in cluster.backups() if b["label"] not in before]
    assert taken["type"] == "incr"
    assert f"incr backup: {taken['label']}" in done.stdout  # the listing after the check
    assert "status: ok" in done.stdout


def scrape(port):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def switch_wal(cluster):
    """A change, and a switch to the next WAL segment, which the leader then archives."""
    statement = "SELECT pg_logical_emit_message(true, 'notes-tests', 'switch'), pg_switch_wal()"
    cluster.sql(cluster.primary_port, statement)


def test_metrics_show_how_long_ago_the_primary_archived_and_its_failed_attempts(cluster, tmp_path):
    port = free_port()
    with gunicorn(tmp_path, DATABASE_URL=f"{PRIMARY_URL}/notes", METRICS_PORT=str(port)):
        switch_wal(cluster)
        assert until(lambda: scrape(port)["notes_wal_archived_age_seconds"] < 2, timeout=10)
        failed = scrape(port)["notes_wal_archive_failures_total"]
        archive = BACKUP_DIR / "archive"
        archive.chmod(0)  # the repository refuses the archiver (which runs as postgres)
        try:
            switch_wal(cluster)
            assert until(lambda: scrape(port)["notes_wal_archive_failures_total"] > failed)
            stuck = scrape(port)["notes_wal_archived_age_seconds"]
        finally:
            archive.chmod(0o750)
        switch_wal(cluster)  # wakes the archiver, which now succeeds
        assert until(lambda: scrape(port)["notes_wal_archived_age_seconds"] < stuck, timeout=30)


TARGETS = [
    ("", 'TARGET is "latest" or a timestamp'),
    ("yesterday", "'yesterday' is not a timestamp"),
    ("2026-12-06 10:00:00", "has no zone"),
    ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "is in the future"),
    ("2001-01-01 00:00:00+00:00", "is before the oldest backup"),
]


@pytest.mark.parametrize(("target", "reason"), TARGETS, ids=[t[1] for t in TARGETS])
def test_a_target_that_cannot_be_restored_is_refused_before_anything_stops(cluster, target, reason):
    leader = cluster.leader()
    running = postmaster_pid(leader)

    done = cluster.make("restore", f"TARGET={target}")

    assert done.returncode != 0
    assert reason in done.stderr
    assert cluster.leader() == leader
    assert postmaster_pid(leader) == running  # its PostgreSQL never stopped
    assert requests.get(f"{BALANCER}/api/notes/").status_code == 200


def test_a_restore_without_a_terminal_or_confirm_yes_is_refused_before_anything_stops(cluster):
    leader = cluster.leader()
    running = postmaster_pid(leader)
    command = ["make", "--no-print-directory", "restore", "TARGET=latest"]

    done = subprocess.run(
        command, cwd=BASE_DIR, env=ENV, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )

    assert done.returncode != 0
    assert "set CONFIRM=yes" in done.stderr
    assert postmaster_pid(leader) == running


@pytest.fixture(scope="module")
def drill(cluster):
    """Under keyed writes from four clients: a moment T, writes on, the operator's mistake
    (every note deleted), then `make restore TARGET=T`."""
    writer = cluster.user_token("writer")
    targets = [create(writer, f"target {i}") for i in range(3)]
    sends_before = sends_now(f"{PRIMARY_URL}/notes")
    with KeyedWrites(BALANCER, writer, targets, count=4) as writes:
        assert writes.wait_for(5, ok={200, 201})
        # Acknowledged before `target` means before `at[0]`; sent after it, after `at[1]`.
        at = time.monotonic(), now(), time.monotonic()
        assert writes.wait_for(5, ok={200, 201})
    cluster.sql(PRIMARY_PORT, "DELETE FROM notes")
    # The runbook's restore, to the moment noted.
    done = run([runbook("make restore")], {**ENV, "CONFIRM": "yes"}, {RUNBOOK_MOMENT: at[1]})
    assert done.returncode == 0, done.report()
    assert cluster.whole()
    return writes, (at[0], at[2]), writer, sends_before


def now():
    return datetime.now(UTC).isoformat(sep=" ")


def test_a_restore_to_a_moment_brings_back_every_write_acknowledged_before_it_once(cluster, drill):
    writes, at, _, sends_before = drill
    before = Ledger.of(write for write in writes.acknowledged if write.at < at[0])

    result = check(database_url(cluster.primary_port), before, "keyed %", sends_before)

    assert sum(before.creates.values()) + sum(before.sends.values()) > 20
    assert result.lost == []
    # (A send acknowledged after the moment may have committed before it: the next test
    # bounds the sends.)
    assert [write for write in result.duplicated if write.startswith("create")] == []


def test_a_restore_to_a_moment_brings_back_no_write_sent_after_it(cluster, drill):
    writes, at, _, sends_before = drill
    later = [write for write in writes.sent if write.at > at[1]]
    sends = {"send", "send-next"}
    sent_before = sum(1 for write in writes.sent if write.at < at[1] and write.kind in sends)
    sent_now = sends_now(database_url(cluster.primary_port))

    assert len(later) > 20
    assert [w.key for w in later if w.kind == "create" and stored(cluster, f"keyed {w.key}")] == []
    # Sends carry no content of their own: all the sends the notes hold add up to no more
    # than the sends whose first attempt came before the moment.
    assert sum(sent_now[note] - sends_before.get(note, 0) for note in sent_now) <= sent_before


def test_after_a_restore_a_retried_key_acknowledged_before_the_moment_replays(cluster, drill):
    writes, at, writer, _ = drill
    write = next(w for w in writes.acknowledged if w.at < at[0] and w.kind == "create")

    again = requests.post(
        f"{BALANCER}/api/notes/",
        json={"content": f"keyed {write.key}"},
        headers={**writer, "Idempotency-Key": write.key},
    )

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["id"] == write.note["id"]
    assert stored(cluster, f"keyed {write.key}") == 1


def test_after_a_restore_the_replica_streams_and_the_service_reads_and_writes(cluster, drill):
    _, _, writer, _ = drill

    note_id = create(writer, "after the restore")

    assert requests.get(f"{BALANCER}/api/notes/{note_id}/", headers=writer).status_code == 200
    assert cluster.replicated(note_id)
    member = cluster.members()[cluster.replica()]
    assert (member["name"], "streaming", "sync") in cluster.streaming()


def test_a_restore_after_a_failover_brings_back_what_the_new_leader_archived(cluster):
    writer = cluster.user_token("writer")
    lost = cluster.leader()
    (survivor,) = set(MEMBERS) - {lost}
    cluster.lose(lost)
    assert until(lambda: cluster.leader() == survivor, timeout=60)
    cluster.script("up", timeout=300)  # the lost member back, as the new leader's standby
    # pgBackRest's check passes on the new leader: it archives.
    assert cluster.make("backup", "TYPE=incr").returncode == 0
    create(writer, "written on the new leader")
    moment = now()
    create(writer, "written after the moment")

    restore(cluster, moment)

    assert stored(cluster, "written on the new leader") == 1
    assert stored(cluster, "written after the moment") == 0


def test_a_restore_after_every_members_data_is_lost_brings_back_all_that_was_archived(cluster):
    writer = cluster.user_token("writer")
    create(writer, "archived before the loss")
    ((position,),) = cluster.sql(cluster.primary_port, "SELECT pg_current_wal_lsn()::text")
    written = time.monotonic()
    # The leader archives the segment holding the write within archive_timeout: the most
    # that losing every member's disk at once can lose.
    assert until(lambda: archived(cluster, position), timeout=ARCHIVE_TIMEOUT + 10, step=0.1)
    print(f"the write was archived {time.monotonic() - written:.1f} s after it was acknowledged")
    cluster.script("down")  # every member's data, and etcd's, gone; the repository kept

    restore(cluster, "latest")

    assert stored(cluster, "archived before the loss") == 1
    assert create(writer, "after the lost disks") > 0


def test_the_repository_outlives_the_cluster_and_goes_only_by_its_own_command(cluster):
    refused = cluster.make("backup-delete")
    assert refused.returncode != 0
    assert "stop it first" in refused.stderr

    cluster.script("down")
    assert (BACKUP_DIR / "backup" / "notes" / "backup.info").exists()

    deleted = cluster.make("backup-delete")
    assert deleted.returncode == 0, deleted.stderr
    assert not BACKUP_DIR.exists()
