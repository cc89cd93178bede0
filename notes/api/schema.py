"""OpenAPI generation that describes the envelopes exactly as they are sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from notes.api import idempotency
from notes.api.body_limit import describe_limit

if TYPE_CHECKING:
    from rest_framework.serializers import Serializer

ERROR_COMPONENT = ResolvedComponent(  # type: ignore[no-untyped-call]
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string", "description": "Machine-readable error code."},
                    "message": {"type": "string", "description": "For a person to read."},
                    "details": {
                        "type": "object",
                        "description": "Field errors, keyed by field or parameter name.",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
    },
)

ERROR_DESCRIPTIONS = {
    "400": (
        "Malformed JSON, failed validation, a bad query parameter or a malformed Idempotency-Key."
    ),
    "401": "No or bad credentials.",
    "403": "Authenticated but not allowed.",
    "404": "No such note, or nothing to send.",
    "406": "No acceptable response media type (see Accept).",
    "409": (
        "A concurrent request is in the way, and nothing was written: the request with this "
        "Idempotency-Key is still running (idempotency_key_in_progress), or the write collided "
        "with another (write_conflict, lock_timeout). Retry after Retry-After."
    ),
    "412": "If-Match names a version that is no longer current; nothing changed.",
    "413": "Request body over {limit}; the connection is closed.",
    "415": "Body media type not accepted.",
    "422": (
        "This Idempotency-Key was already used for another request (method, path or body); "
        "nothing was written."
    ),
    "429": "Rate limit exceeded; see Retry-After.",
    "500": "Unexpected error.",
    "503": "Database unavailable, or a query timed out; see Retry-After.",
}

# Answers that tell the client when to try again.
RETRY_AFTER_STATUSES = {"409", "429", "503"}
RETRY_AFTER = {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}


class EnvelopeAutoSchema(AutoSchema):
    """AutoSchema with success bodies in `{"data": ...}` and the error envelope per status."""

    def get_auth(self) -> list[dict[str, Any]]:
        auth = super().get_auth()
        if self.method in ("GET", "HEAD") and settings.NOTES_PUBLIC_READ and {} not in auth:
            auth.append({})
        return auth

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = super().get_override_parameters()
        return parameters + idempotency.schema_parameters(self.view)

    def _map_basic_serializer(self, serializer: Serializer[Any], direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(  # type: ignore[no-untyped-call]
            serializer, direction
        )
        if direction == "request":
            # As the serializer enforces: unknown fields are refused, while
            # read-only ones (from a GET body sent back) are accepted and ignored.
            schema["additionalProperties"] = False
            # DRF checks max_length after trimming blanks, so a longer raw string
            # may be valid: the limit is not a bound on input as sent.
            for name, field in serializer.fields.items():
                if getattr(field, "trim_whitespace", False):
                    schema["properties"][name].pop("maxLength", None)
            ignored = [name for name, field in serializer.fields.items() if field.read_only]
            for name in ignored:
                schema["properties"][name] = {"description": "Read-only: ignored on input."}
            required = [name for name in schema.get("required", []) if name not in ignored]
            schema.pop("required", None)
            if required:
                schema["required"] = required
        return schema

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: list[str] | None = None,
        direction: str = "response",
    ) -> dict[str, Any]:
        response: dict[str, Any] = super()._get_response_for_code(  # type: ignore[no-untyped-call]
            serializer, status_code, media_types, direction
        )
        paginator = self._get_paginator()  # type: ignore[no-untyped-call]
        paginated = self._is_list_view(serializer) and paginator is not None
        if status_code.startswith("2") and not paginated:
            for media in response.get("content", {}).values():
                media["schema"] = {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": media["schema"]},
                }
        return response

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if "204" in responses and (headers := self._get_response_headers_for_code("204")):
            # drf-spectacular leaves a DELETE's 204 without the headers declared for it.
            responses["204"]["headers"] = headers
        if self.method == "GET" and "{" in self.path:
            responses["304"] = {"description": "Not modified: If-None-Match holds the ETag."}
        self.registry.register_on_missing(ERROR_COMPONENT)
        limit = describe_limit(settings.REQUEST_BODY_LIMIT)
        for code in self.error_statuses():
            response = {
                "description": ERROR_DESCRIPTIONS[code].format(limit=limit),
                "content": {"application/json": {"schema": ERROR_COMPONENT.ref}},
            }
            if code in RETRY_AFTER_STATUSES:
                response["headers"] = {"Retry-After": RETRY_AFTER}
            responses.setdefault(code, response)
        return responses

    def error_statuses(self) -> list[str]:
        codes = {"406", "500"}
        if getattr(self.view, "uses_database", True):
            codes |= {"503"}
        if self.view.authentication_classes:
            codes |= {"401"}
        if self.view.throttle_classes:
            codes |= {"429"}
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            # 409: a write can collide with a concurrent one (or its key still be running).
            codes |= {"403", "409"}
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer():
            codes |= {"400", "413", "415"}
        if self.method in ("PUT", "PATCH", "DELETE"):
            codes |= {"412"}
        if idempotency.applies_to(self.view):
            codes |= {"400", "422"}
        if self._is_list_view() and self.method == "GET":
            codes |= {"400"}
        if "{" in self.path or self.path.rstrip("/").endswith("send-next"):
            codes |= {"404"}
        return sorted(codes)
