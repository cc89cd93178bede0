"""Conditional requests: strong ETags on single notes, If-None-Match (304), If-Match (412).

Plain functions the view's actions call: an ETag is made from the note itself
(its id and `updated_at`), never from a rendered response, so it does not
depend on how timestamps are formatted.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from notes import selectors
from notes.api.exceptions import NoteNotFound, PreconditionFailed
from notes.models import Note

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def etag_for(note: Note) -> str:
    # Every write moves updated_at (to the microsecond, by the database's clock),
    # so the id and updated_at name one version of the representation exactly.
    return f'"{note.id}-{(note.updated_at - EPOCH) // MICROSECOND:x}"'


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


def none_match_fails(request: Request, etag: str) -> bool:
    """Whether If-None-Match names this version (compared weakly, RFC 9110), or `*`: a 304."""
    # META, not request.headers: that builds a dict of every header per request.
    etags = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    return "*" in etags or weak(etag) in map(weak, etags)


def if_match_versions(request: Request, note_id: int) -> list[datetime] | None:
    """The versions If-Match names, for the write's WHERE; None when any version will do.

    The check and the write are one statement, so of two clients sending the
    same ETag, the second finds the version moved and gets 412.
    """
    header = request.META.get("HTTP_IF_MATCH")
    if header is None:
        return None
    etags = parse_etags(header)
    if "*" in etags:
        return None
    # If-Match compares strongly: a weak ETag never matches.
    versions = (version_of(etag, note_id) for etag in etags)
    return [version for version in versions if version is not None]


def missed_write(note_id: int, versions: Sequence[datetime] | None) -> APIException:
    """Why a write matched no row: If-Match named a version that moved (412), or no note (404)."""
    if versions is not None and selectors.note_exists(note_id=note_id):
        return PreconditionFailed()
    return NoteNotFound()


# The headers, for the OpenAPI document. An ETag comes with a note in a success body.
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=["200", "201"],
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
