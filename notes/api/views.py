"""The notes API: CRUD on a ModelViewSet, plus the two send actions."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from notes import selectors, services
from notes.api.conditional import ConditionalRequestsMixin, conditional_schema, note_not_found
from notes.api.database_errors import NoteBusy
from notes.api.filters import NoteFilter
from notes.api.idempotency import IdempotentWritesMixin
from notes.api.serializers import NoteSerializer
from notes.models import DEFAULT_ORDERING, ORDERING_FIELDS, Note

WRITES = frozenset({"PUT", "PATCH", "DELETE"})


@conditional_schema
class NoteViewSet(IdempotentWritesMixin, ConditionalRequestsMixin, viewsets.ModelViewSet[Note]):
    """Notes: create, list, search, read, change, delete and send them."""

    # Lists and searches go through the ORM (django-filter, keyset pagination);
    # single notes and every write through notes.selectors and notes.services.
    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    filterset_class = NoteFilter
    ordering_fields = ORDERING_FIELDS
    ordering = DEFAULT_ORDERING
    # Ids that are not digits fall through to the enveloped 404 of unknown paths.
    lookup_value_regex = r"\d+"

    def get_object(self) -> Note:
        note_id = int(self.kwargs[self.lookup_field])
        if self.request.method in WRITES and not self.object_permissions_apply():
            # No permission looks at the note itself, so a write need not read it
            # first: its one statement finds the note, or finds none (404).
            return Note(pk=note_id)
        # A note's URL names it whatever the query string says: one indexed read.
        note = selectors.get_note(note_id=note_id)
        if note is None:
            raise note_not_found()
        self.check_object_permissions(self.request, note)
        return note

    def get_success_headers(self, data: Any) -> dict[str, str]:
        return {"Location": reverse("note-detail", args=[data["id"]], request=self.request)}

    @extend_schema(request=None, summary="Count one send of this note.")
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        if self.object_permissions_apply():
            self.get_object()
        # One statement counts the send and returns the note, or finds none.
        note = services.send_note(note_id=int(pk))
        if note is None:
            raise note_not_found()
        return Response(self.get_serializer(note).data)

    @extend_schema(
        request=None, summary="Count one send of the least-sent note (oldest first among equals)."
    )
    @action(detail=False, methods=["post"], url_path="send-next")
    def send_next(self, request: Request) -> Response:
        try:
            note = services.send_next_note()
        except services.NoteBusy:
            raise NoteBusy() from None
        if note is None:
            raise exceptions.NotFound("There are no notes to send.")
        return Response(self.get_serializer(note).data)

    def object_permissions_apply(self) -> bool:
        """Whether a permission checks notes one by one; then a write reads its note first."""
        default = BasePermission.has_object_permission
        return any(
            type(permission).has_object_permission is not default
            for permission in self.get_permissions()
        )
