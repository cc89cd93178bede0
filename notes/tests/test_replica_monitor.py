"""More than one machine: the replica monitor's verdict, shared by a worker's threads.

(The replica itself, failovers included, is tested in test_cluster.py.)
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from notes import replica
from notes.replica import ReplicaMonitor, Seen, Verdict


@pytest.fixture(autouse=True)
def check_interval(settings):
    # Set only with DATABASE_REPLICA_URL, which the suite's own settings do not set.
    settings.DATABASE_REPLICA_CHECK_INTERVAL = 60


class StalledMonitor(ReplicaMonitor):
    """A monitor whose check waits until released, counting the checks made."""

    def __init__(self):
        super().__init__()
        self.checks = 0
        self.release = threading.Event()

    def check(self, now):
        self.checks += 1
        self.release.wait(timeout=30)
        return Verdict(now, usable=True)


def test_one_thread_checks_and_the_others_keep_to_the_last_verdict_meanwhile():
    monitor = StalledMonitor()
    with ThreadPoolExecutor(8) as threads:
        first = threads.submit(monitor.is_usable)
        while monitor.checks == 0:
            time.sleep(0.001)
        meanwhile = [threads.submit(monitor.is_usable) for _ in range(7)]
        answers = [answer.result(timeout=30) for answer in meanwhile]
        monitor.release.set()

        assert first.result(timeout=30) is True
    assert answers == [False] * 7
    assert monitor.checks == 1
    assert monitor.is_usable() is True  # within the interval: no second check
    assert monitor.checks == 1


def test_the_primary_lost_holds_for_its_seconds_then_ends(monkeypatch):
    monitor = ReplicaMonitor()
    monkeypatch.setattr(replica, "monitor", monitor)

    monitor.noticed_primary_lost()
    assert replica.primary_is_lost()
    assert monitor.is_usable()  # no check of its own: the replica serves until the next

    monitor.verdict = Verdict(time.monotonic() - replica.PRIMARY_LOST_HOLD, True, True)
    assert not replica.primary_is_lost()


def test_a_connection_to_a_promoted_member_closes_when_its_request_ends(
    transactional_db, monkeypatch
):
    # The default database stands for the replica's: the connection and its close are real.
    monkeypatch.setattr(replica, "REPLICA", "default")
    monitor = ReplicaMonitor()
    monkeypatch.setattr(replica, "monitor", monitor)
    wrapper = connections["default"]
    wrapper.ensure_connection()
    monitor.seen[wrapper.connection] = Seen(0, time.monotonic())

    replica.close_promoted_connection()
    assert wrapper.connection is not None  # not promoted: kept

    monitor.seen[wrapper.connection] = Seen(0, time.monotonic(), promoted=True)
    replica.close_promoted_connection()
    assert wrapper.connection is None
