"""Every error, DRF's, Django's or unexpected, as one `{"error": {...}}` envelope."""

import logging
import sys
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from notes import services
from notes.api import database_errors
from notes.api.envelope import Envelope, EnvelopeJSONRenderer
from notes.api.exceptions import Busy, NotReplicated

logger = logging.getLogger(__name__)


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


def api_error_for(exc: Exception) -> Exception:
    """The API's answer (notes/api/exceptions.py) to a domain or database error, else `exc`."""
    if isinstance(exc, services.NoteBusy):
        return Busy()
    if isinstance(exc, services.WriteNotReplicated):
        return NotReplicated()
    return database_errors.answer_for(exc)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler (statuses, headers, rollback), with bodies put in the error envelope."""
    exc = api_error_for(exc)
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


def server_error(request: HttpRequest) -> HttpResponseBase:
    """Django's 500 (an error outside DRF's views: the admin, the logins), except that a
    database that cannot serve now is answered as the API answers it: 503 (or 409) with
    Retry-After. Django calls this while handling the error, so sys.exc_info() holds it."""
    error = sys.exc_info()[1]
    answer = database_errors.answer_for(error) if isinstance(error, Exception) else None
    if not isinstance(answer, exceptions.APIException):
        return defaults.server_error(request)
    response = HttpResponse(f"{answer.detail}\n", status=answer.status_code)
    response["Content-Type"] = "text/plain; charset=utf-8"
    response["Retry-After"] = str(getattr(answer, "wait", 5))
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """Django's 400 (a Host outside ALLOWED_HOSTS, say): enveloped JSON under /api/ and /health/."""
    if not request.path.startswith(("/api/", "/health/")) and request.path != "/api":
        return defaults.bad_request(request, exception)
    if isinstance(exception, DisallowedHost):
        code, message = "disallowed_host", "The Host header names no host this service serves."
    else:
        code, message = "bad_request", "The request is malformed."
    return JsonResponse(error_envelope(400, code, message), status=400)
