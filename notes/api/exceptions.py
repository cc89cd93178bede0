"""Every error the API answers with, beyond DRF's own: status, code and words, in one place.

Views raise these; `envelope_exception_handler` (notes/api/errors.py) turns
domain and database errors into them, and every one into the error envelope.
A `wait` becomes the answer's `Retry-After` (DRF sends it).
"""

from rest_framework import exceptions, status


class NoteNotFound(exceptions.NotFound):
    # The words of DRF's get_object_or_404, which single-note reads once went through.
    default_detail = "No Note matches the given query."


class NothingToSend(exceptions.NotFound):
    default_detail = "There are no notes to send."


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "Token has expired."
    default_code = "token_expired"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The note has changed since the version named in If-Match."
    default_code = "precondition_failed"


class KeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."
    default_code = "idempotency_key_in_progress"
    wait = 1


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for another request (method, path or body)."
    default_code = "idempotency_key_reused"


class Busy(exceptions.APIException):
    """send-next found every least-sent note locked by other transactions, try after try."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Every least-sent note is being changed right now; try again shortly."
    default_code = "busy"
    wait = 1


class NotReplicated(exceptions.APIException):
    """The write was committed on the primary, but its wait for the synchronous standby was
    cancelled: it is not acknowledged. A retry with the same Idempotency-Key gets its outcome
    once the standby has it; without a key, a retry may write it again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The write may not have reached the standby; retry it with its Idempotency-Key."
    )
    default_code = "not_replicated"
    wait = 1


class WriteConflict(exceptions.APIException):
    """A deadlock or serialization failure: this request was rolled back, another went on."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request collided with a concurrent one and was not applied; retry it."
    default_code = "write_conflict"
    wait = 1


class LockTimeout(exceptions.APIException):
    """A row or table stayed locked by another transaction past DATABASE_LOCK_TIMEOUT."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The note is locked by a concurrent request; nothing was applied, retry it."
    default_code = "lock_timeout"
    wait = 1


class QueryTimeout(exceptions.APIException):
    """A statement ran past DATABASE_STATEMENT_TIMEOUT and was cancelled: the server is slow."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database took too long to answer; nothing was applied, retry shortly."
    default_code = "query_timeout"
    wait = 1


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "database_unavailable"
    wait = 5


class NotReady(exceptions.APIException):
    """From /health/ready: the database does not answer, or a migration is pending."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "not_ready"
    wait = 5
