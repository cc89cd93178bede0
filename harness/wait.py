"""Waiting for a condition, bounded: the one polling loop of the tests and the benchmarks."""

import time
from collections.abc import Callable


def until(condition: Callable[[], object], timeout: float = 15, step: float = 0.1) -> bool:
    """Whether `condition()` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
