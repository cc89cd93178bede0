"""OpenAPI generation that describes the envelopes exactly as they are sent.

Each operation declares its own responses (`responses()`, in an
`extend_schema` beside the action it documents): its success body and the
errors it may answer, each in the error envelope. `envelope_success_bodies`,
a drf-spectacular postprocessing hook, puts success bodies in `{"data": ...}`
as the renderer does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.functional import lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from notes.api.body_limit import describe_limit

if TYPE_CHECKING:
    from rest_framework.serializers import Serializer


@extend_schema_field(
    {
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
)
class ErrorField(serializers.DictField):
    pass


class ErrorSerializer(serializers.Serializer[Any]):
    # The `{"error": {...}}` envelope, for the document only (errors.py writes it).
    error = ErrorField()


def _body_limit() -> str:
    # Read when the document is generated: it states the limit in force.
    limit = describe_limit(settings.REQUEST_BODY_LIMIT)
    return f"Request body over {limit}; the connection is closed."


ERROR_DESCRIPTIONS: dict[int, Any] = {
    400: "Malformed JSON, failed validation, a bad query parameter or a malformed Idempotency-Key.",
    401: "No or bad credentials.",
    403: "Authenticated but not allowed.",
    404: "No such note, or nothing to send.",
    406: "No acceptable response media type (see Accept).",
    409: (
        "A concurrent request is in the way, and nothing was written: the request with this "
        "Idempotency-Key is still running (idempotency_key_in_progress), or the write collided "
        "with another (write_conflict, lock_timeout). Retry after Retry-After."
    ),
    412: "If-Match names a version that is no longer current; nothing changed.",
    413: lazy(_body_limit, str)(),
    415: "Body media type not accepted.",
    422: (
        "This Idempotency-Key was already used for another request (method, path or body); "
        "nothing was written."
    ),
    429: "Rate limit exceeded; see Retry-After.",
    500: "Unexpected error.",
    503: "Database unavailable, or a query timed out; see Retry-After.",
}

# The errors a request to the notes may meet whatever it is: credentials,
# content negotiation, the rate limit, the unexpected, and the database.
ANY_REQUEST = (401, 406, 429, 500, 503)
# A write may also be forbidden, collide with another or with its key's first
# run (409), carry a malformed Idempotency-Key (400) or reuse one (422).
WRITE = (400, 403, 409, 422)
# A request body may be invalid, too large or of a type not accepted.
BODY = (400, 413, 415)

# Answers that tell the client when to try again.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=["409", "429", "503"],
    description="Seconds to wait before retrying.",
)


def responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """An operation's responses: its success, then each error in the error envelope."""
    described = {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted(set(errors))
    }
    return {**success, **described}


def envelope_success_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: each success body inside `{"data": ...}`, as the renderer sends it.

    A body that is already an envelope (a page of the list: data and links) is
    left as it is, the same rule EnvelopeJSONRenderer follows.
    """
    components = result.get("components", {}).get("schemas", {})
    for operations in result["paths"].values():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                for media in response.get("content", {}).values():
                    if not _is_envelope(media["schema"], components):
                        media["schema"] = {
                            "type": "object",
                            "required": ["data"],
                            "properties": {"data": media["schema"]},
                        }
    return result


def _is_envelope(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    return "data" in components.get(name, {}).get("required", ())


class EnvelopeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with public reads, Retry-After, and request bodies as parsed."""

    def get_auth(self) -> list[dict[str, Any]]:
        auth = super().get_auth()
        if self.method in ("GET", "HEAD") and settings.NOTES_PUBLIC_READ and {} not in auth:
            auth.append({})
        return auth

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = super().get_override_parameters()
        # Declared on every operation, it shows only on the answers listed in it.
        return [*parameters, RETRY_AFTER]

    def _map_basic_serializer(self, serializer: Serializer[Any], direction: str) -> dict[str, Any]:
        # A private method: drf-spectacular has no public way to change a
        # serializer's mapping for one direction; test_docs.py pins the result.
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
