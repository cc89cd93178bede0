"""Database errors as answers a client can act on: conflicts and timeouts are not outages."""

import logging

from django.db import InterfaceError, InternalError, OperationalError
from rest_framework.exceptions import APIException

from notes.api.exceptions import DatabaseUnavailable, LockTimeout, QueryTimeout, WriteConflict

logger = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE codes of errors that say "not now", not "not there".
TRANSIENT: dict[str, type[APIException]] = {
    "40P01": WriteConflict,  # deadlock_detected
    "40001": WriteConflict,  # serialization_failure
    "55P03": LockTimeout,  # lock_not_available (lock_timeout, NOWAIT)
    "57014": QueryTimeout,  # query_canceled (statement_timeout)
}


# A write that reached a server in recovery: read_only_sql_transaction. Behind a
# failover-aware address it means the member there was just demoted (a switchover or
# failover under way) and the new primary is moments away.
DEMOTED = {"25006"}


def unavailable(exc: Exception) -> bool:
    """Whether a database error says the database cannot serve now, whatever its class.

    Connection and operational errors do. Two InternalErrors (the class of real server
    bugs, answered 500) do too: a write refused by a demoted member, and an error the
    driver raised itself, with no SQLSTATE, because the server or the pooler between
    spoke out of turn, as PgBouncer does when it loses its server in the middle of a
    client's transaction start ("received 2 results from command 'BEGIN'").
    """
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if not isinstance(exc, InternalError) or exc.__cause__ is None:
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate in DEMOTED


def answer_for(exc: Exception) -> Exception:
    """The API error for a database error (logged with its traceback); other errors as they are."""
    if not unavailable(exc):
        return exc
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    answer = TRANSIENT.get(sqlstate or "", DatabaseUnavailable)
    logger.warning(
        "Database error answered %s (SQLSTATE %s)", answer.default_code, sqlstate, exc_info=exc
    )
    return answer()
