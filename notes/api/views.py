"""The notes API: CRUD on a ModelViewSet, plus the two send actions."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from notes.api.conditional import ConditionalRequestsMixin, conditional_schema
from notes.api.filters import NoteFilter
from notes.api.idempotency import IdempotentWritesMixin
from notes.api.serializers import NoteSerializer
from notes.models import ORDERING_FIELDS, Note


@conditional_schema
class NoteViewSet(IdempotentWritesMixin, ConditionalRequestsMixin, viewsets.ModelViewSet):
    """Notes: create, list, search, read, change, delete and send them."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    filterset_class = NoteFilter
    ordering_fields = ORDERING_FIELDS
    ordering = "-created_at"
    # Ids that are not digits fall through to the enveloped 404 of unknown paths.
    lookup_value_regex = r"\d+"

    def filter_queryset(self, queryset):
        # Search and ordering shape lists; a note's own URL names it whatever
        # the query string says, and skipping them spares every read a filter form.
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    def get_success_headers(self, data):
        return {"Location": reverse("note-detail", args=[data["id"]], request=self.request)}

    @extend_schema(request=None, summary="Count one send of this note.")
    @action(detail=True, methods=["post"])
    def send(self, request, pk):
        note = Note.objects.send(int(pk))
        if note is None:
            raise Http404("No note with this id.")
        return Response(self.get_serializer(note).data)

    @extend_schema(
        request=None, summary="Count one send of the least-sent note (oldest first among equals)."
    )
    @action(detail=False, methods=["post"], url_path="send-next")
    def send_next(self, request):
        note = Note.objects.send_next()
        if note is None:
            raise Http404("There are no notes to send.")
        return Response(self.get_serializer(note).data)
