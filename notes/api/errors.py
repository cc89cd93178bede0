"""Every error, DRF's, Django's or unexpected, as one `{"error": {...}}` envelope."""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from notes.api.envelope import Envelope, EnvelopeJSONRenderer

logger = logging.getLogger(__name__)


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "database_unavailable"
    # Seconds a client should wait before retrying; DRF sends it as Retry-After.
    wait = 5


def error_envelope(status_code: int, code: str, message: str, details: Any = None) -> Envelope:
    error = {"status": status_code, "code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Envelope(error=error)


def _envelope_for(exc: Exception, response: Response) -> Envelope:
    # DRF has already turned Django's Http404 and PermissionDenied into a detail.
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    if isinstance(exc, exceptions.ValidationError) or detail is None:
        details = response.data
        if not isinstance(details, dict):
            details = {"non_field_errors": details}
        return error_envelope(response.status_code, "invalid", "Invalid input.", details)
    return error_envelope(response.status_code, detail.code, str(detail))


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler (statuses, headers, rollback), with bodies put in the error envelope."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("Database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        # Unexpected: logged with its traceback, answered without one.
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(
            error_envelope(500, "server_error", "A server error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    response.data = _envelope_for(exc, response)
    return response


class UnknownEndpointView(APIView):
    """Answers any method on an unknown path under /api/ with an enveloped 404."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    # Never an HTML page, whatever the client accepts.
    renderer_classes = [EnvelopeJSONRenderer]
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound("No API endpoint at this path.")
