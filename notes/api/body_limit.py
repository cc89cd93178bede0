"""Request bodies over REQUEST_BODY_LIMIT answer 413 before anything reads them, and close."""

from collections.abc import Awaitable, Callable, Iterable
from io import BytesIO
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from notes.api.errors import error_envelope

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]
# ASGI's scope, receive, send and application.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]


def describe_limit(limit: int) -> str:
    """The limit as a person reads it: "64 KiB", or "1000 bytes" when not whole KiB."""
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


class ChunkedBodyLimit:
    """WSGI middleware: give Django a chunked body's length, reading at most limit + 1 bytes.

    It wraps the WSGI application, not inside MIDDLEWARE: Django's WSGIRequest
    bounds the body by CONTENT_LENGTH before any middleware runs, and only the
    server's start_response can close the connection.

    Django reads no body without a Content-Length, and a chunked request has
    none. Reading one byte past the limit is enough to know it is too large;
    RequestBodyLimitMiddleware then refuses it by the length given here.

    For a body over the limit it also carries the 413's `Connection: close` to
    the server: WSGI forbids the app that hop-by-hop header (gunicorn drops it
    and would keep the connection, the refused body's rest unread on it), so
    the header is taken out and the server told to close, where it can be.
    """

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application
        # Read when the application is built (a settings lookup costs a request more than the
        # rest of this); RequestBodyLimitMiddleware below reads it again on every request.
        self.limit = settings.REQUEST_BODY_LIMIT

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(self.limit + 1)
            environ["wsgi.input"] = BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        # Only a refused body closes the connection; other requests pass straight through.
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > self.limit:
            start_response = closing(start_response)
        return self.application(environ, start_response)


def closing(start_response: StartResponse) -> StartResponse:
    """A WSGI start_response that turns the app's `Connection: close` into the server's close."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if ("Connection", "close") in headers:
            headers = [header for header in headers if header[0] != "Connection"]
            # gunicorn's start_response is a method of its Response, whose force_close()
            # closes the connection after this response. Not a documented interface:
            # test_limits.py's tests under gunicorn pin it (the chunked 413 must close).
            force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
            if force_close is not None:
                force_close()
        return start_response(status, headers, exc_info)

    return start


class AsgiBodyLimit:
    """ASGI middleware: the same for ASGI servers, which hand Django a chunked body unbounded."""

    def __init__(self, application: ASGIApplication) -> None:
        self.application = application
        self.limit: int = settings.REQUEST_BODY_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        if scope["type"] != "http" or b"content-length" in headers:
            return await self.application(scope, receive, send)
        body, more = b"", True
        while more and len(body) <= self.limit:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
        length = (b"content-length", str(len(body)).encode())
        scope = {**scope, "headers": [*scope["headers"], length]}
        return await self.application(scope, replaying(body, receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """An ASGI receive that gives the buffered body as the whole body, then only what is not body.

    Django listens for the client's disconnect after the body; the rest of a
    refused body must not reach it (it takes any other message for a bug).
    """
    sent = False

    async def receive_again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while (message := await receive())["type"] == "http.request":
            pass
        return message

    return receive_again


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
            limit = describe_limit(settings.REQUEST_BODY_LIMIT)
            envelope = error_envelope(413, "request_too_large", f"Request body over {limit}.")
            response = JsonResponse(envelope, status=413)
            # The body's unread rest would otherwise be taken for the next request.
            response["Connection"] = "close"
            return response
        return self.get_response(request)
