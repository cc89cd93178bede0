"""gunicorn's gthread worker, with two changes: it paces the connections it takes once it holds
one per thread, and a request's thread puts its kept-alive connection back in the poller itself.

Pacing. Every worker waits on the one listening socket, and gthread's own worker
takes each connection it sees. When many clients connect at once (a balancer's
pool, a load test), the first worker to wake may take most of them and keep them
alive: one process, so one core under the GIL, while other workers hold one
connection or none. On the 2-core machine, 32 clients left a third of it idle in
some runs (docs/performance.md, "Connections spread over the workers"). This
worker, once it holds as many connections as it has threads, waits PATIENCE after
each connection it takes, so that a worker holding fewer takes the next. With
every worker that full, each still takes one per PATIENCE: 500 new connections a
second per worker, about as many requests as a worker answers on the 2-core
machine, so the pause spreads connections rather than holding them back.

Keeping. gthread's request thread hands every finished connection to the main
thread (a queue and a byte through a pipe), which wakes only to register it with
its poller again. Here the request's thread registers a connection that simply
stays open, under a lock, and keeps it in `kept`; the main thread wakes once per
request, when the next one arrives, instead of twice (docs/performance.md, "Kept
connections stay with the request's thread"). Everything else (closing, a body
read ahead, HTTP/2, a stopping worker) still goes to gthread's main thread.
`kept` is the worker's own, beside gthread's deque of kept connections, because
gthread's main thread iterates that deque when it stops: no other thread may add
to it, so closing the idle ones of `kept` is done here too (murder_keepalived).

test_workers.py fails if a gunicorn release stops calling the methods extended here.
"""

import contextlib
import selectors
import threading
import time
from functools import partial
from typing import Any

from gunicorn.workers import gthread

PATIENCE = 0.002  # seconds: 1 ms spread a burst less evenly, 5 ms no more evenly


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    resume_at = 0.0  # time.monotonic() before which a full worker takes no connection
    stop_by: float | None = None  # once stopping: when kept connections close at the latest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made before the fork and used only after it, in the worker.
        self.keeping = threading.Lock()  # request threads add to `kept`, the main thread takes
        self.kept: dict[Any, None] = {}  # kept-alive connections, oldest first

    # --- pacing ------------------------------------------------------------------

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

    # --- keeping -----------------------------------------------------------------

    def enqueue_req(self, conn: Any) -> None:
        # gthread's, with the request's own thread deciding what follows it.
        future = self.tpool.submit(self.handle, conn)
        future.add_done_callback(partial(self.after_request, conn))

    def after_request(self, conn: Any, future: Any) -> None:
        """In the request's thread: keep the connection, or hand it to gthread's main thread."""
        try:
            if self.keep(conn, future):
                return
        except Exception:  # gthread's main thread closes what could not be kept
            self.log.exception("Error keeping a connection alive")
        self.method_queue.defer(self.finish_request, conn, future)

    def keep(self, conn: Any, future: Any) -> bool:
        # Only a response that left the connection open, with nothing of the next
        # request read ahead (gthread's finish_request serves that one at once).
        if future.cancelled() or future.exception() or future.result() is not True:
            return False
        if conn.parser.unreader.buf.getvalue():
            return False
        # gthread caps its own kept connections (worker_connections - threads); these
        # count in nr_conns, which worker_connections caps, as every connection does.
        with self.keeping:
            if not self.alive:
                return False  # stopping: gthread's main thread lingers, then closes
            conn.sock.setblocking(False)
            conn.set_timeout()
            self.kept[conn] = None
            try:
                self.poller.register(
                    conn.sock, selectors.EVENT_READ, partial(self.on_kept_readable, conn)
                )
            except (OSError, ValueError, KeyError):  # the socket or the poller closed meanwhile
                del self.kept[conn]
                return False
        return True

    def on_kept_readable(self, conn: Any, sock: Any) -> None:
        """In the main thread: the client's next request has arrived."""
        self.poller.unregister(sock)
        with self.keeping:
            del self.kept[conn]
        self.enqueue_req(conn)

    def murder_keepalived(self, force: bool = False) -> None:
        # gthread's main loop calls this on every pass: its own connections, then these.
        super().murder_keepalived(force)
        now = time.monotonic()
        if not self.alive and self.stop_by is None:
            self.stop_by = now + gthread.STOP_KEEPALIVE_LINGER
        with self.keeping:
            expired = []
            for conn in self.kept:  # oldest first: the first still open ends the search
                deadline = conn.timeout if self.stop_by is None else min(conn.timeout, self.stop_by)
                if deadline > now and not force:
                    break
                expired.append(conn)
            for conn in expired:
                del self.kept[conn]
        for conn in expired:
            with contextlib.suppress(OSError, KeyError, ValueError):  # as gthread's own
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()
