"""X-Request-ID on every response, and the same id on every log line its request causes."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
# The contract's rule for an id a client may choose; anything else is replaced.
VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")

# The id of the request this thread (or task) is serving; None between requests.
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_for(given: str) -> str:
    """The client's own id when it is valid, else a new UUID."""
    return given if VALID_ID.fullmatch(given) else str(uuid.uuid4())


class RequestIdMiddleware:
    """Names each request, first of all middleware, so even static files and errors carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(request.META.get("HTTP_X_REQUEST_ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Not reset on the way out: Django logs a 4xx or 5xx after the middleware
        # returns, and gunicorn's access line comes later still. The value is
        # cleared when the response is closed (request_finished, wired in apps.py).
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def forget_request_id(**kwargs: Any) -> None:
    """request_finished's receiver: lines logged between requests carry no stale id."""
    current_request_id.set(None)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on a log record, unless the record names its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True
