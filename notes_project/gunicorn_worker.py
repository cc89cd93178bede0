"""gunicorn's gthread worker, pacing the connections it takes once it holds one per thread.

Every worker waits on the one listening socket, and gthread's own worker takes
each connection it sees. When many clients connect at once (a balancer's pool,
a load test), the first worker to wake may take most of them and keep them
alive: one process, so one core under the GIL, while other workers hold one
connection or none. On the 2-core machine, 32 clients left a third of it idle
in some runs (docs/performance.md, "Connections spread over the workers").

This worker, once it holds as many connections as it has threads, waits
PATIENCE after each connection it takes, so that a worker holding fewer takes
the next. With every worker that full, each still takes one per PATIENCE: 500
new connections a second per worker, about as many requests as a worker
answers on the 2-core machine, so the pause spreads connections rather than
holding them back. Kept-alive connections, reloads and stops are gthread's own.
test_workers.py fails if a gunicorn release stops calling the methods extended here.
"""

import time
from typing import Any

from gunicorn.workers import gthread

PATIENCE = 0.002  # seconds: 1 ms spread a burst less evenly, 5 ms no more evenly


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    resume_at = 0.0  # time.monotonic() before which a full worker takes no connection

    def full(self) -> bool:
        return bool(self.nr_conns >= self.cfg.threads)

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        if self.full():
            self.resume_at = time.monotonic() + PATIENCE
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks to accept again on every pass while the worker is
        # under worker_connections: the pause ends here.
        pausing = self.full() and time.monotonic() < self.resume_at
        super().set_accept_enabled(enabled and not pausing)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # A pause ends on time, not at the next event or gthread's next second.
        left = self.resume_at - time.monotonic()
        super().wait_for_and_dispatch_events(min(timeout, left) if left > 0 else timeout)
