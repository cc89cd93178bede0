"""Conditional requests: strong ETags on single notes, If-None-Match (304), If-Match (412)."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from notes import selectors, services
from notes.models import Note

if TYPE_CHECKING:
    from rest_framework.viewsets import GenericViewSet

    _ViewSet = GenericViewSet[Note]
else:
    _ViewSet = object

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The note has changed since the version named in If-Match."
    default_code = "precondition_failed"


def etag_for(note_id: int, updated_at: datetime) -> str:
    # Every write moves updated_at (to the microsecond, by the database's clock),
    # so the id and updated_at name one version of the representation exactly.
    return f'"{note_id}-{(updated_at - EPOCH) // MICROSECOND:x}"'


def version_of(etag: str, note_id: int) -> datetime | None:
    """The updated_at an ETag of this note names, or None if it names no version of it."""
    prefix = f'"{note_id}-'
    if not (etag.startswith(prefix) and etag.endswith('"')):
        return None
    try:
        return EPOCH + int(etag[len(prefix) : -1], 16) * MICROSECOND
    except (ValueError, OverflowError):
        return None


def weak(etag: str) -> str:
    return etag.removeprefix("W/")


class ConditionalRequestsMixin(_ViewSet):
    """For a view set of notes: ETag on every single-note response, 304 and 412 on request."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        note = response.data if isinstance(response.data, dict) else {}
        # Only the JSON representation gets one: a strong ETag promises identical
        # bytes, and the browsable API's HTML page differs per user and request.
        renderer = getattr(request, "accepted_renderer", None)
        is_json = renderer is not None and renderer.format == "json"
        if (
            is_json
            and status.is_success(response.status_code)
            and {"id", "updated_at"} <= note.keys()
        ):
            updated_at = parse_datetime(note["updated_at"])
            assert updated_at is not None  # the serializer wrote it
            etag = etag_for(note["id"], updated_at)
            if request.method in ("GET", "HEAD") and self.none_match_fails(request, etag):
                response = Response(status=status.HTTP_304_NOT_MODIFIED)
            response["ETag"] = etag
        return super().finalize_response(request, response, *args, **kwargs)

    def none_match_fails(self, request: Request, etag: str) -> bool:
        # META, not request.headers: that builds a dict of every header per request.
        etags = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
        return "*" in etags or weak(etag) in map(weak, etags)

    def if_match_versions(self, note_id: int) -> list[datetime] | None:
        """The versions If-Match names, for the write's WHERE; None when any version will do.

        The check and the write are one statement, so of two clients sending the
        same ETag, the second finds the version moved and gets 412.
        """
        header = self.request.META.get("HTTP_IF_MATCH")
        if header is None:
            return None
        etags = parse_etags(header)
        if "*" in etags:
            return None
        # If-Match compares strongly: a weak ETag never matches.
        versions = (version_of(etag, note_id) for etag in etags)
        return [version for version in versions if version is not None]

    def perform_update(self, serializer: BaseSerializer[Note]) -> None:
        assert serializer.instance is not None
        serializer.save(versions=self.if_match_versions(serializer.instance.pk))

    def perform_destroy(self, instance: Note) -> None:
        versions = self.if_match_versions(instance.pk)
        if not services.delete_note(note_id=instance.pk, versions=versions):
            raise missed_write(instance.pk, versions)


def missed_write(note_id: int, versions: Sequence[datetime] | None) -> exceptions.APIException:
    """Why a write to a note that was just read matched no row: a moved version, or a delete."""
    if versions is not None and selectors.note_exists(note_id=note_id):
        return PreconditionFailed()
    return note_not_found()


def note_not_found() -> exceptions.NotFound:
    # The words of DRF's get_object_or_404, which single-note reads once went through.
    return exceptions.NotFound("No Note matches the given query.")


ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    description="Strong validator of this version of the note.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="ETag(s) the client holds; a match answers 304 with no body.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="ETag of the version to change; any other current version answers 412.",
)
conditional_schema = extend_schema_view(
    retrieve=extend_schema(parameters=[IF_NONE_MATCH, ETAG]),
    update=extend_schema(parameters=[IF_MATCH, ETAG]),
    partial_update=extend_schema(parameters=[IF_MATCH, ETAG]),
    destroy=extend_schema(parameters=[IF_MATCH]),
    create=extend_schema(parameters=[ETAG]),
    send=extend_schema(parameters=[ETAG]),
    send_next=extend_schema(parameters=[ETAG]),
)
