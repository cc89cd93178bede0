"""The load harness the fault and cluster tests lean on: a goal not met fails the test."""

import pytest

from harness.load import Reads
from harness.server import free_port


def test_run_until_fails_when_its_goal_is_not_met():
    # Nothing listens on the port: every request is refused, no client ever succeeds.
    url = f"http://127.0.0.1:{free_port()}"
    goal_not_met = pytest.raises(AssertionError, match=r"not every client had 1 answers in \[200\]")
    with Reads(url, {}, ["/health/live"], count=2) as load, goal_not_met:
        load.run_until(1, ok={200}, timeout=0.5)

    assert load.stopping.is_set()
    assert load.outcomes
    assert all(o.status == "ConnectionError" for o in load.outcomes)
