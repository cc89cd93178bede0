"""Request bodies over REQUEST_BODY_LIMIT answer 413 before anything reads them."""

from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from notes.api.errors import error_envelope

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodyLimit:
    """WSGI middleware: give Django a chunked body's length, reading at most limit + 1 bytes.

    Django reads no body without a Content-Length, and a chunked request has
    none. Reading one byte past the limit is enough to know it is too large;
    RequestBodyLimitMiddleware then refuses it by the length given here.
    """

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(settings.REQUEST_BODY_LIMIT + 1)
            environ["wsgi.input"] = BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


class RequestBodyLimitMiddleware:
    """Answers 413 in the error envelope when the declared body is over the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.REQUEST_BODY_LIMIT:
            limit = f"{settings.REQUEST_BODY_LIMIT // 1024} KiB"
            envelope = error_envelope(413, "request_too_large", f"Request body over {limit}.")
            return JsonResponse(envelope, status=413)
        return self.get_response(request)
