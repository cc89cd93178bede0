"""Middleware for reads on the replica: each request's read choice, and a user's writes recorded."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from notes.pins import pins
from notes.replica import SAFE_METHODS, RequestReads, current_reads


class ReadYourWritesMiddleware:
    """Lets the router choose this request's read database, then records a successful write.

    Installed only with DATABASE_REPLICA_URL (settings.py): without a replica a
    request pays nothing for it. After a write that succeeded (status below
    400) by an authenticated user, the primary's WAL position goes to Redis, so
    that user's later reads, on any instance, wait for the replica to pass it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_reads.set(RequestReads(request))
        try:
            response = self.get_response(request)
        finally:
            current_reads.reset(token)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                pins.record(user.pk)
        return response
