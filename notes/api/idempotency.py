"""Idempotency-Key on writes: the first outcome is stored with the write and replayed to retries.

`@idempotent` wraps a view set's write action. Without the header the action
runs as it is. With it, the action runs inside one transaction that also takes
the key's lock, looks the key up, and stores the rendered outcome; a retry gets
the stored outcome instead of a second write (notes/idempotency/store.py has
the SQL).
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.db import transaction
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notes import services
from notes.api.exceptions import KeyInProgress, KeyReused
from notes.idempotency import store

# The contract's rule: 1 to 255 visible ASCII characters, "!" to "~".
KEY_PATTERN = r"^[!-~]{1,255}$"
VALID_KEY = re.compile(r"[!-~]{1,255}")  # for fullmatch: "$" would let a final newline by
HEADER = "Idempotency-Key"

# A view set's action: (view, request, *args, **kwargs) -> Response.
Action = TypeVar("Action", bound=Callable[..., Response])


def idempotent(action: Action) -> Action:
    """A write action that runs at most once per user and Idempotency-Key."""

    @functools.wraps(action)
    def run(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The whole cost to a request without the header is this one lookup.
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        services.watch_replication()
        if key is None:
            response = action(view, request, *args, **kwargs)
        else:
            response = run_once(view, request, key, lambda: action(view, request, *args, **kwargs))
        # Never a 2xx for a commit the synchronous standby may not have.
        services.ensure_replicated()
        return response

    return cast(Action, run)


def run_once(view: APIView, request: Request, key: str, write: Callable[[], Response]) -> Response:
    """The write in one transaction with the key's lock, look-up and stored outcome."""
    if not VALID_KEY.fullmatch(key):
        raise ValidationError({HEADER: ["Must be 1 to 255 visible ASCII characters ('!' to '~')."]})
    # Writes need a user (the permissions saw to it); keys are theirs alone.
    if not request.user.is_authenticated:
        return write()
    user_id = request.user.pk
    fingerprint = fingerprint_of(request)
    # Any exception rolls it all back: a failure stores nothing, so a retry is safe.
    with transaction.atomic():
        if not store.try_lock(user_id, key):
            raise KeyInProgress()
        stored = store.find(user_id, key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise KeyReused()
            # The first try's commit may have come back without the standby: this
            # transaction's commit waits until the standby has it (ensure_replicated).
            services.wait_replicated()
            return replay(stored)
        response = write()
        # The actions raise on failure; a failure answered otherwise is not kept either.
        if not status.is_success(response.status_code):
            transaction.set_rollback(True)
            return response
        render(view, request, response)
        try:
            store.save(user_id, key, outcome_of(response, fingerprint))
        except store.KeyStillLive:
            raise KeyInProgress() from None
    return response


def render(view: APIView, request: Request, response: Response) -> None:
    """Render the response now, inside the transaction, so the stored bytes are the sent bytes.

    As DRF's finalize_response (which runs later, once) prepares it: the
    renderer content negotiation chose, the view's renderer context, and the
    view's default headers, `Vary` then `Allow`, which the browsable API's
    page lists. finalize_response then finds them in place, and a rendered
    response is not rendered again.
    """
    defaults = view.default_response_headers
    for header in ("Vary", "Allow"):
        if header in defaults:
            response[header] = defaults[header]
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = view.get_renderer_context()  # type: ignore[attr-defined]
    response.render()


def fingerprint_of(request: Request) -> bytes:
    """SHA-256 of method, path (either spelling of the trailing slash) and body as sent."""
    digest = hashlib.sha256(f"{request.method} {request.path.rstrip('/')}\n".encode())
    try:
        digest.update(request.body)
    except RawPostDataException:
        # A multipart form already read by the CSRF check: its parsed fields stand in.
        digest.update(json.dumps(request.data, sort_keys=True, default=str).encode())
    return digest.digest()


def outcome_of(response: Response, fingerprint: bytes) -> store.Outcome:
    return store.Outcome(
        fingerprint=fingerprint,
        status=response.status_code,
        body=bytes(response.content),
        content_type=response.get("Content-Type"),
        location=response.get("Location"),
        etag=response.get("ETag"),
    )


def replay(stored: store.Outcome) -> Response:
    """The first response again: status, body, Content-Type, Location and ETag."""
    response = Response(status=stored.status)
    response.content = stored.body  # marks it rendered: the stored bytes are sent as they are
    for header, value in (
        ("Content-Type", stored.content_type),
        ("Location", stored.location),
        ("ETag", stored.etag),
    ):
        if value is None:
            response.headers.pop(header, None)
        else:
            response[header] = value
    response["Idempotent-Replayed"] = "true"
    return response


# For the OpenAPI document of every idempotent action.
SCHEMA_PARAMETERS = [
    OpenApiParameter(
        HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        pattern=KEY_PATTERN,
        description=(
            "A key of the client's choosing (a UUID, say) that makes retries safe: "
            "a repeat of this request with the same key, method, path and body within "
            "24 hours writes nothing and answers what the first did, with "
            "`Idempotent-Replayed: true`. Keys belong to the user who sent them."
        ),
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=["200", "201", "204"],
        enum=["true"],
        description="Present on a replay of the first outcome for this Idempotency-Key.",
    ),
]
