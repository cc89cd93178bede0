"""Keyset pagination: opaque cursors that visit every row exactly once, ties included."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, Func, Model, QuerySet, Value
from django.db.models.lookups import GreaterThan, LessThan
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.response import Response

from notes import selectors
from notes.api.envelope import Envelope
from notes.models import Note

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# What reads a page: the first `limit` rows in `ordering` past the sort key `after`.
Rows = Callable[[Sequence[str], Sequence[Any] | None, int], list[Any]]


class Row(Func):
    """SQL's row constructor. `ROW(a, id) > ROW(x, y)` compares column by column, as an
    index on (a, id) orders its entries, so it is one range of that index."""

    function = "ROW"
    output_field = Field()


class KeysetCursorPagination(CursorPagination):
    """DRF's CursorPagination with the cursor holding the whole sort key of a row.

    DRF's cursor keeps only the first ordering column plus an offset among equal
    values, and gives up after 1,000 of them; notes share times_sent by the
    thousand. Here the cursor holds every ordering column (always ending in the
    unique id), and a page is `WHERE (col, id) > (value, id)`, one index range
    scan however deep the page is. A page of a queryset is read by the ORM; a
    page of a search (`paginate_search`) by the search's own statements.
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
        """A page of the queryset: `ORDER BY ... LIMIT`, past the cursor's sort key."""

        def rows(ordering: Sequence[str], after: Sequence[Any] | None, limit: int) -> list[Any]:
            ordered = queryset.order_by(*ordering)
            if after is not None:
                ordered = ordered.filter(self.beyond(ordering, after))
            return list(ordered[:limit])

        return self.paginate(rows, queryset, request, view)

    def paginate_search(self, words: str, request: Request, view: APIView) -> list[Note]:
        """A page of the notes matching `words`, read by notes.selectors.search_page:
        its statements' plans do not hang on how common the planner thinks the words are."""

        def rows(ordering: Sequence[str], after: Sequence[Any] | None, limit: int) -> list[Note]:
            return selectors.search_page(words=words, ordering=ordering, after=after, limit=limit)

        return self.paginate(rows, Note.objects.all(), request, view)

    def paginate(
        self, rows: Rows, queryset: QuerySet[Any], request: Request, view: APIView | None
    ) -> list[Any]:
        """DRF's paginate_queryset with the page and one row more read by `rows`. Here
        `queryset` only names the model, for the ordering filter and the cursor's fields."""
        self.request = request
        self.ordering = self.get_ordering(request, queryset, view)  # type: ignore[arg-type]
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.model = queryset.model
        self.cursor = self.decode_cursor(request)
        backwards = bool(self.cursor and self.cursor.reverse)
        ordering = reversed_ordering(self.ordering) if backwards else self.ordering
        after = None if self.cursor is None else cast(list[Any], self.cursor.position)
        found = rows(ordering, after, self.page_size + 1)
        self.page = found[: self.page_size]
        more = len(found) > self.page_size
        if backwards:
            self.page.reverse()
        self.has_next = True if backwards else more
        self.has_previous = more if backwards else self.cursor is not None
        self.display_page_controls = self.has_next or self.has_previous
        return self.page

    def beyond(self, ordering: Sequence[str], after: Sequence[Any]) -> GreaterThan | LessThan:
        """Rows past the sort key `after` in `ordering`, whose columns all share one direction."""
        columns = [field.lstrip("-") for field in ordering]
        # Each value typed as its column, as a filter on that column would type it.
        typed = zip(after, map(self.field_of, columns), strict=True)
        values = [Value(value, output_field=field) for value, field in typed]
        past = LessThan if ordering[0].startswith("-") else GreaterThan
        return past(Row(*map(F, columns)), Row(*values))

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self.invalid_cursor() from None
        if cursor is None:
            return None
        # DRF's cursor position is a number; here it holds the row's sort key.
        position = self.decode_position(cursor.position)  # type: ignore[arg-type]
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=position)  # type: ignore[arg-type]

    def decode_position(self, position: str) -> list[Any]:
        try:
            values = json.loads(position)
            fields = [self.field_of(name) for name in self.ordering]
            if not isinstance(values, list) or len(values) != len(fields) or None in values:
                raise ValueError
            decoded = [field.to_python(value) for field, value in zip(fields, values, strict=True)]
            # The column's range too (an integer's is PostgreSQL's): a row holds nothing
            # outside it, and compared with one, PostgreSQL would fail the query.
            for field, value in zip(fields, decoded, strict=True):
                field.run_validators(value)
            return decoded
        except (TypeError, ValueError, OverflowError, DjangoValidationError):
            raise self.invalid_cursor() from None

    def invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def field_of(self, name: str) -> Field[Any, Any]:
        return cast("Field[Any, Any]", self.model._meta.get_field(name.lstrip("-")))

    def position(self, instance: Model) -> str:
        """The cursor's position at a row: its sort key, as JSON."""
        values = [getattr(instance, field.lstrip("-")) for field in self.ordering]
        return json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])

    def get_next_link(self) -> str | None:
        if not (self.has_next and self.page):
            return None
        position = self.position(self.page[-1])
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))  # type: ignore[arg-type]

    def get_previous_link(self) -> str | None:
        if not (self.has_previous and self.page):
            return None
        position = self.position(self.page[0])
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


def reversed_ordering(ordering: Sequence[str]) -> tuple[str, ...]:
    """The same columns, each in the other direction: a previous page's ordering."""
    return tuple(field[1:] if field.startswith("-") else f"-{field}" for field in ordering)
