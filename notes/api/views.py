"""The notes API: a ModelViewSet whose write actions read like the contract.

Each write validates its body with the serializer, reads If-Match, makes one
call to notes/services.py, turns a miss into 412 or 404, and answers the note
with its ETag; `@idempotent` runs it at most once per Idempotency-Key. A write
does not read its note first: its statement finds the note or finds none
(notes/api/checks.py keeps permissions to what can be decided per request).
Reads: `list` reads its query parameters with django-filter, then pages either
a search (`?search=`, by its own statements, notes/selectors.py) or every note
(by the ORM), both with the keyset cursors of notes/api/pagination.py; a single
note is one selector, with If-None-Match.
"""

from typing import Any, cast

from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import BaseSerializer

from notes import selectors, services
from notes.api.conditional import (
    ETAG,
    IF_MATCH,
    IF_NONE_MATCH,
    etag_for,
    if_match_versions,
    missed_write,
    none_match_fails,
)
from notes.api.exceptions import NoteNotFound, NothingToSend
from notes.api.filters import NoteFilter
from notes.api.idempotency import SCHEMA_PARAMETERS as KEYED
from notes.api.idempotency import idempotent
from notes.api.pagination import KeysetCursorPagination
from notes.api.schema import ANY_REQUEST, BODY, WRITE, responses
from notes.api.serializers import NoteSerializer
from notes.models import DEFAULT_ORDERING, ORDERING_FIELDS, Note

NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match holds the ETag.")
# PUT and PATCH.
EDIT_SCHEMA = extend_schema(
    parameters=[*KEYED, IF_MATCH, ETAG],
    responses=responses({200: NoteSerializer}, *ANY_REQUEST, *WRITE, *BODY, 404, 412),
)


@extend_schema_view(
    list=extend_schema(responses=responses({200: NoteSerializer}, *ANY_REQUEST, 400))
)
class NoteViewSet(viewsets.ModelViewSet[Note]):
    """Notes: create, list, search, read, change, delete and send them."""

    # The list's pages through the ORM, a search's through notes.selectors (list());
    # single notes and every write through notes.selectors and notes.services.
    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    filterset_class = NoteFilter
    pagination_class = KeysetCursorPagination
    ordering_fields = ORDERING_FIELDS
    ordering = DEFAULT_ORDERING
    # Ids that are not digits fall through to the enveloped 404 of unknown paths.
    lookup_value_regex = r"\d+"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of notes, or with `?search=` a page of the notes that match its words."""
        filters = self.valid_filters(request)
        search = filters.form.cleaned_data["search"]
        pagination = cast(KeysetCursorPagination, self.paginator)
        if search:
            notes = pagination.paginate_search(search, request, self)
        else:
            notes = pagination.paginate_queryset(filters.qs, request, self)
        serializer = self.get_serializer(notes, many=True)
        return self.get_paginated_response(serializer.data)

    def valid_filters(self, request: Request) -> NoteFilter:
        """The list's filters (django-filter) on the query string; a 400 when one is invalid."""
        filters = NoteFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not filters.is_valid():
            raise translate_validation(filters.errors)
        return filters

    @extend_schema(
        parameters=[IF_NONE_MATCH, ETAG],
        responses=responses({200: NoteSerializer, 304: NOT_MODIFIED}, *ANY_REQUEST, 404),
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()
        if is_json(request) and none_match_fails(request, etag_for(note)):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag_for(note)})
        return self.note_response(note)

    def get_object(self) -> Note:
        # A note's URL names it whatever the query string says: one indexed read.
        note = selectors.get_note(note_id=self.note_id())
        if note is None:
            raise NoteNotFound()
        self.check_object_permissions(self.request, note)
        return note

    @extend_schema(
        parameters=[*KEYED, ETAG],
        responses=responses({201: NoteSerializer}, *ANY_REQUEST, *WRITE, *BODY),
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.validated(request)
        note = services.create_note(content=serializer.validated_data["content"])
        location = reverse("note-detail", args=[note.id], request=request)
        return self.note_response(note, serializer, status.HTTP_201_CREATED, {"Location": location})

    @EDIT_SCHEMA
    @idempotent
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.edit(request, partial=False)

    @EDIT_SCHEMA
    @idempotent
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.edit(request, partial=True)

    @extend_schema(
        parameters=[*KEYED, IF_MATCH],
        responses=responses({204: None}, *ANY_REQUEST, *WRITE, 404, 412),
    )
    @idempotent
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note_id = self.note_id()
        versions = if_match_versions(request, note_id)
        if not services.delete_note(note_id=note_id, versions=versions):
            raise missed_write(note_id, versions)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        summary="Count one send of this note.",
        parameters=[*KEYED, ETAG],
        responses=responses({200: NoteSerializer}, *ANY_REQUEST, *WRITE, 404),
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def send(self, request: Request, pk: str) -> Response:
        # One statement counts the send and returns the note, or finds none.
        note = services.send_note(note_id=self.note_id())
        if note is None:
            raise NoteNotFound()
        return self.note_response(note)

    @extend_schema(
        request=None,
        summary="Count one send of the least-sent note (oldest first among equals).",
        parameters=[*KEYED, ETAG],
        responses=responses({200: NoteSerializer}, *ANY_REQUEST, *WRITE, 404),
    )
    @action(detail=False, methods=["post"], url_path="send-next")
    @idempotent
    def send_next(self, request: Request) -> Response:
        # A note held by others on every try raises services.NoteBusy: a 503, by errors.py.
        note = services.send_next_note()
        if note is None:
            raise NothingToSend()
        return self.note_response(note)

    def edit(self, request: Request, *, partial: bool) -> Response:
        """PUT and PATCH: the content (a PATCH without it keeps it), at If-Match's versions."""
        serializer = self.validated(request, partial=partial)
        content = serializer.validated_data.get("content")
        note_id = self.note_id()
        versions = if_match_versions(request, note_id)
        note = services.update_note(note_id=note_id, content=content, versions=versions)
        if note is None:
            raise missed_write(note_id, versions)
        return self.note_response(note, serializer)

    def validated(self, request: Request, *, partial: bool = False) -> BaseSerializer[Note]:
        """The serializer of the request's body, valid (else a 400)."""
        serializer = self.get_serializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer

    def note_id(self) -> int:
        return int(self.kwargs[self.lookup_field])

    def note_response(
        self,
        note: Note,
        serializer: BaseSerializer[Note] | None = None,
        code: int = status.HTTP_200_OK,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The note in the body, rendered by the serializer that validated the request if any
        (as DRF's save() leaves it; the browsable API's form reuses it), with its ETag."""
        if serializer is None:
            serializer = self.get_serializer(note)
        else:
            serializer.instance = note
        response = Response(serializer.data, status=code, headers=headers)
        if is_json(self.request):
            response["ETag"] = etag_for(note)
        return response


def is_json(request: Request) -> bool:
    # Only the JSON representation gets an ETag: a strong one promises identical
    # bytes, and the browsable API's HTML page differs per user and request.
    return request.accepted_renderer.format == "json"
