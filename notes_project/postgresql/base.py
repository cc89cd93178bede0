"""PostgreSQL backend: a connection check that polls the socket, a count of driver errors, what
the server says of commits that did not wait for the synchronous standby, and a connection
pooler between (PgBouncer) found by itself."""

import logging
import select
from contextvars import ContextVar
from functools import cached_property
from types import TracebackType
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from django.db.utils import DatabaseErrorWrapper

from notes_project.metrics import DATABASE_ERRORS

logger = logging.getLogger(__name__)


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

# PgBouncer's FATAL for a startup parameter it does not pass on: libpq's `options`, which
# carries the timeouts (1.18: "unsupported startup parameter: options"; from 1.20,
# "unsupported startup parameter in options: statement_timeout").
STARTUP_REFUSED = "unsupported startup parameter"
# The (HOST, PORT) that refused `options` in this process: later connections skip the try.
REFUSED_OPTIONS: set[tuple[str, Any]] = set()
# The (HOST, PORT, NAME) of pools already named in a warning for running without timeouts.
WARNED: set[tuple[Any, ...]] = set()


# Set when the server's warning above is heard (psycopg calls the handler in the thread
# that ran the statement); notes.services clears it before a write and reads it after.
# A ContextVar, not an attribute of the connection: it costs no look-up of the connection.
commit_unreplicated: ContextVar[bool] = ContextVar("commit_unreplicated", default=False)


class DatabaseWrapper(base.DatabaseWrapper):
    # Whether a connection pooler answers for the server (set on every connection).
    behind_pooler = False

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return CountingErrorWrapper(self)

    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection[Any]:
        """A connection with the timeouts as startup options, or without them where the
        server (a pooler: PgBouncer) refuses that startup parameter."""
        server = (self.settings_dict["HOST"], self.settings_dict["PORT"])
        if server in REFUSED_OPTIONS:
            conn_params = _without_options(conn_params)
        try:
            connection: psycopg.Connection[Any] = super().get_new_connection(conn_params)
        except psycopg.OperationalError as error:
            if "options" not in conn_params or STARTUP_REFUSED not in str(error):
                raise
            REFUSED_OPTIONS.add(server)
            connection = super().get_new_connection(_without_options(conn_params))
        # psycopg drops notices unless a handler takes them; a commit that came back
        # without the standby says so only in one.
        connection.add_notice_handler(self.heard)
        return connection

    def init_connection_state(self) -> None:
        """Find out whether a pooler is between: one query per new connection.

        PostgreSQL gives each connection its server process's id, and a pooler its
        own number, since the server process changes from transaction to transaction.
        Behind one, psycopg prepares no statement: a prepared statement lives on one
        server connection, and the pooler sends the next transaction to any other (or
        to one where another client prepared its own under the same name). The
        statement and lock timeouts are then the server's, as the pooler's server
        connections have them (a session setting from here would stay behind on one
        of them): with a timeout configured here and none there, it says so once.
        """
        # Nothing is prepared until the pooler is ruled out, and a connection whose set-up
        # failed (its server lost meanwhile) is closed, never reused half set up: through a
        # pooler it would prepare statements, and meet another client's of the same name.
        threshold, self.connection.prepare_threshold = self.connection.prepare_threshold, None
        try:
            super().init_connection_state()
            with self.connection.cursor() as cursor:
                row = cursor.execute(
                    "SELECT pg_backend_pid(), current_setting('statement_timeout'),"
                    " current_setting('lock_timeout'), current_user, current_database()"
                ).fetchone()
            if not self.get_autocommit():
                self.connection.commit()
        except BaseException:
            self.connection.close()
            raise
        assert row is not None
        pid, statement_timeout, lock_timeout, user, database = row
        self.behind_pooler = pid != self.connection.info.backend_pid
        if not self.behind_pooler:
            self.connection.prepare_threshold = threshold
            return
        # Parameters bound by psycopg, as with server_side_binding off: each statement goes
        # whole in one message, with nothing for a pooler to lose between Parse and Execute
        # when its server goes away (a failover).
        self.connection.cursor_factory = base.Cursor
        running = {"statement_timeout": statement_timeout, "lock_timeout": lock_timeout}
        missing = [name for name in settings.DATABASE_TIMEOUTS if running[name] == "0"]
        if missing:
            self.warn_of_missing_timeouts(missing, user, database)

    def warn_of_missing_timeouts(self, missing: list[str], user: str, database: str) -> None:
        """Once per pool and process: the pooler's server connections run without them."""
        pool = tuple(self.settings_dict[key] for key in ("HOST", "PORT", "NAME"))
        if pool in WARNED:
            return
        WARNED.add(pool)
        logger.warning(
            "The database at %s:%s is a connection pooler whose server connections"
            " run with no %s: one stuck statement or lock wait can hold a request"
            " without end. Give every server connection the timeouts, on the role (%s)"
            " or with the pooler's connect_query (docs/database-errors.md).",
            *pool[:2],
            " and no ".join(missing),
            "; ".join(
                f"ALTER ROLE {user} IN DATABASE {database}"
                f" SET {name} = {settings.DATABASE_TIMEOUTS[name]}"
                for name in missing
            ),
        )

    def chunked_cursor(self) -> Any:
        """A cursor for .iterator(): Django's named cursor, held past its transaction when
        there is none, except behind a pooler, which would send its next FETCH to another
        server connection. There a plain cursor: the rows come at once."""
        if self.get_autocommit() and self.behind_pooler:
            return self.cursor()
        return super().chunked_cursor()

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


def _without_options(conn_params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in conn_params.items() if key != "options"}
