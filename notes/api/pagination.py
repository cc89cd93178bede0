"""Keyset pagination: opaque cursors that visit every row exactly once, ties included."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, Model, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, _reverse_ordering
from rest_framework.response import Response

from notes import selectors
from notes.api.envelope import Envelope
from notes.models import NoteQuerySet

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class KeysetCursorPagination(CursorPagination):
    """DRF's CursorPagination with the cursor holding the whole sort key of a row.

    DRF's cursor keeps only the first ordering column plus an offset among equal
    values, and gives up after 1,000 of them; notes share times_sent by the
    thousand. Here the cursor holds every ordering column (always ending in the
    unique id), and a page is `WHERE (col, id) > (value, id)`, one index range
    scan however deep the page is.
    """

    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = "Invalid cursor."

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            # PAGE_SIZE is set, so the default is an int.
            return cast(int, self.page_size)
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            message = f"Must be an integer from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return size

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)  # type: ignore[arg-type]
        self.model = queryset.model
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)

        ordering = _reverse_ordering(self.ordering) if reverse else self.ordering
        rows = self.rows(queryset, ordering, limit=self.page_size + 1)
        self.page = rows[: self.page_size]
        has_more = len(rows) > self.page_size
        if reverse:
            self.page.reverse()
        self.has_next = True if reverse else has_more
        self.has_previous = has_more if reverse else self.cursor is not None
        self.display_page_controls = self.has_next or self.has_previous
        return self.page

    def rows(self, queryset: QuerySet[Any], ordering: Sequence[str], limit: int) -> list[Any]:
        """The first `limit` rows in `ordering` past the cursor: a page and one more."""
        position = None if self.cursor is None else cast(list[Any], self.cursor.position)
        words = queryset.searched_words() if isinstance(queryset, NoteQuerySet) else None
        if words is not None:
            # A search's page has statements of its own, whose cost does not hang
            # on the planner's guess at how common the words are.
            return selectors.search_page(
                words=words, ordering=ordering, after=position, limit=limit
            )
        queryset = queryset.order_by(*ordering)
        if position is not None:
            queryset = queryset.filter(self.beyond(ordering, position))
        return list(queryset[:limit])

    def beyond(
        self, ordering: Sequence[str], position: list[Any]
    ) -> TupleGreaterThan | TupleLessThan:
        """Rows after `position` in `ordering`, whose columns all share one direction."""
        columns = Tuple(*(F(field.lstrip("-")) for field in ordering))
        after = TupleLessThan if ordering[0].startswith("-") else TupleGreaterThan
        return after(columns, position)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self.invalid_cursor() from None
        if cursor is None:
            return None
        # DRF's cursor position is a number; here it holds the row's sort key.
        position = self.decode_position(cursor.position)  # type: ignore[arg-type]
        return cursor._replace(position=position)  # type: ignore[arg-type]

    def decode_position(self, position: str) -> list[Any]:
        try:
            values = json.loads(position)
            fields = [self.field_of(name) for name in self.ordering]
            if not isinstance(values, list) or len(values) != len(fields) or None in values:
                raise ValueError
            return [field.to_python(value) for field, value in zip(fields, values, strict=True)]
        except (TypeError, ValueError, OverflowError, DjangoValidationError):
            raise self.invalid_cursor() from None

    def invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def field_of(self, name: str) -> Field[Any, Any]:
        return cast("Field[Any, Any]", self.model._meta.get_field(name.lstrip("-")))

    def _get_position_from_instance(self, instance: Model, ordering: Sequence[str]) -> str:
        values = [getattr(instance, field.lstrip("-")) for field in ordering]
        return json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])

    def get_next_link(self) -> str | None:
        if not (self.has_next and self.page):
            return None
        position = self._get_position_from_instance(self.page[-1], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))  # type: ignore[arg-type]

    def get_previous_link(self) -> str | None:
        if not (self.has_previous and self.page):
            return None
        position = self._get_position_from_instance(self.page[0], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=position))  # type: ignore[arg-type]

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
        return parameters

    def get_paginated_response(self, data: Any) -> Response:
        links = {"next": self.get_next_link(), "previous": self.get_previous_link()}
        return Response(Envelope(data=data, links=links))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["data", "links"],
            "properties": {
                "data": schema,
                "links": {
                    "type": "object",
                    "required": ["next", "previous"],
                    "properties": {"next": link, "previous": link},
                },
            },
        }
