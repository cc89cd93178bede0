"""PostgreSQL backend whose per-request connection check is a poll of its socket, not a query."""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
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
