"""Database errors as answers a client can act on: conflicts and timeouts are not outages."""

import logging

from django.db import InterfaceError, OperationalError
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


def answer_for(exc: Exception) -> Exception:
    """The API error for a database error (logged with its traceback); other errors as they are."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return exc
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    answer = TRANSIENT.get(sqlstate or "", DatabaseUnavailable)
    logger.warning(
        "Database error answered %s (SQLSTATE %s)", answer.default_code, sqlstate, exc_info=exc
    )
    return answer()
