"""Idempotency-Key on writes: the first outcome is stored with the write and replayed to retries."""

import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from notes.idempotency import store

if TYPE_CHECKING:
    from rest_framework.viewsets import GenericViewSet

    _ViewSet = GenericViewSet[Any]
else:
    _ViewSet = object

# The contract's rule: 1 to 255 visible ASCII characters, "!" to "~".
KEY_PATTERN = r"^[!-~]{1,255}$"
VALID_KEY = re.compile(r"[!-~]{1,255}")  # for fullmatch: "$" would let a final newline by
HEADER = "Idempotency-Key"
# Seconds a client should wait before retrying a key that is still running.
RETRY_AFTER = 1


class KeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."
    default_code = "idempotency_key_in_progress"
    wait = RETRY_AFTER


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for another request (method, path or body)."
    default_code = "idempotency_key_reused"


class IdempotentWritesMixin(_ViewSet):
    """For a view set: writes that carry an Idempotency-Key run once per user and key."""

    idempotent_actions = frozenset(
        {"create", "update", "partial_update", "destroy", "send", "send_next"}
    )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # The whole cost to a request without the header is this one lookup.
        key = request._request.META.get("HTTP_IDEMPOTENCY_KEY")
        if key is not None and self.action in self.idempotent_actions:
            self.run_once(request, key)

    def run_once(self, request: Request, key: str) -> None:
        """Replace this request's handler by one that runs it at most once per key."""
        if not VALID_KEY.fullmatch(key):
            raise exceptions.ValidationError(
                {HEADER: ["Must be 1 to 255 visible ASCII characters ('!' to '~')."]}
            )
        # Writes need a user (the permissions saw to it); keys are theirs alone.
        if request.user.is_authenticated:
            method = (request.method or "").lower()
            setattr(self, method, KeyedHandler(self, getattr(self, method), key))


class KeyedHandler:
    """Runs a view's handler inside one transaction with the lookup and the stored outcome."""

    def __init__(self, view: Any, handler: Callable[..., Response], key: str) -> None:
        self.view, self.handler, self.key = view, handler, key

    def __call__(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user_id = request.user.pk
        assert user_id is not None  # run_once keyed only authenticated requests
        fingerprint = fingerprint_of(request)
        with transaction.atomic():
            if not store.try_lock(user_id, self.key):
                raise KeyInProgress()
            stored = store.find(user_id, self.key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise KeyReused()
                return replay(stored)
            response = self.handler(request, *args, **kwargs)
            # Finalized and rendered here, so what is stored is what is sent.
            response = self.view.finalize_response(request, response, *args, **kwargs)
            assert isinstance(response, Response)
            response.render()
            if not status.is_success(response.status_code):
                # A failure stores nothing and keeps nothing, so a retry is safe.
                transaction.set_rollback(True)
                return response
            try:
                store.save(user_id, self.key, outcome_of(response, fingerprint))
            except store.KeyStillLive:
                raise KeyInProgress() from None
        return response


def fingerprint_of(request: Request) -> bytes:
    """SHA-256 of method, path (either spelling of the trailing slash) and body as sent."""
    django_request = request._request
    digest = hashlib.sha256(f"{request.method} {django_request.path.rstrip('/')}\n".encode())
    try:
        digest.update(django_request.body)
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


def applies_to(view: Any) -> bool:
    """Whether this view's current action takes an Idempotency-Key (for the OpenAPI document)."""
    return getattr(view, "action", None) in getattr(view, "idempotent_actions", ())


def schema_parameters(view: Any) -> list[OpenApiParameter]:
    """The request header and the replay's response header, for the OpenAPI document."""
    if not applies_to(view):
        return []
    success_status = {"create": "201", "destroy": "204"}.get(view.action, "200")
    return [
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
            response=[success_status],
            enum=["true"],
            description="Present on a replay of the first outcome for this Idempotency-Key.",
        ),
    ]
