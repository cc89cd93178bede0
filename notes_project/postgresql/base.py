"""PostgreSQL backend: a connection check that polls the socket, a count of driver errors, and
what the server says of commits that did not wait for the synchronous standby."""

import select
from contextvars import ContextVar
from functools import cached_property
from types import TracebackType
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from django.db.utils import DatabaseErrorWrapper

from notes_project.metrics import DATABASE_ERRORS


class CountingErrorWrapper(DatabaseErrorWrapper):
    """Django's translation of driver errors, counting each one by its driver class first.

    Every query and connection attempt passes through it, whichever view,
    command or admin page made it, so the count misses none.
    """

    wrapper: "DatabaseWrapper"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, self.wrapper.Database.Error):
            DATABASE_ERRORS.labels(exc_type.__name__).inc()
        super().__exit__(exc_type, exc_value, traceback)


# PostgreSQL's WARNING when a commit's wait for the synchronous standby was cancelled (a
# cancel request, pg_cancel_backend, or the session terminated): the commit stands locally,
# but a failover could lose it. The cluster's lc_messages is C: the text is English.
SYNC_WAIT_CANCELLED = "canceling wait for synchronous replication"


# Set when the server's warning above is heard (psycopg calls the handler in the thread
# that ran the statement); notes.services clears it before a write and reads it after.
# A ContextVar, not an attribute of the connection: it costs no look-up of the connection.
commit_unreplicated: ContextVar[bool] = ContextVar("commit_unreplicated", default=False)


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return CountingErrorWrapper(self)

    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] = super().get_new_connection(conn_params)
        # psycopg drops notices unless a handler takes them; a commit that came back
        # without the standby says so only in one.
        connection.add_notice_handler(self.heard)
        return connection

    def heard(self, notice: psycopg.errors.Diagnostic) -> None:
        if (notice.message_primary or "").startswith(SYNC_WAIT_CANCELLED):
            commit_unreplicated.set(True)

    def is_usable(self) -> bool:
        """True unless the connection is known broken or the server has spoken out of turn.

        Django's check (CONN_HEALTH_CHECKS) sends `SELECT 1` before each request's
        first query, a round trip that cost about a tenth of a GET. An idle
        connection has nothing to read; when the server restarts or ends the
        session it sends a FATAL message and closes the socket, which makes it
        readable. So a readable socket, and only that, earns the full check.
        A connection cut without a word fails its next query, which marks it
        broken, and Django replaces it at the end of that request.
        """
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        # poll(), unlike select(), takes any file descriptor number.
        socket = select.poll()
        socket.register(connection.fileno(), select.POLLIN)
        return not socket.poll(0) or super().is_usable()
