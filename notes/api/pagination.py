"""Keyset pagination: opaque cursors that visit every row exactly once, ties included."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, _reverse_ordering
from rest_framework.response import Response

from notes.api.envelope import Envelope


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

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            message = f"Must be an integer from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return size

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.model = queryset.model
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)

        ordering = _reverse_ordering(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*ordering)
        if self.cursor is not None:
            queryset = queryset.filter(self.beyond(ordering, self.cursor.position))

        rows = list(queryset[: self.page_size + 1])
        self.page = rows[: self.page_size]
        has_more = len(rows) > self.page_size
        if reverse:
            self.page.reverse()
        self.has_next = True if reverse else has_more
        self.has_previous = has_more if reverse else self.cursor is not None
        self.display_page_controls = self.has_next or self.has_previous
        return self.page

    def beyond(self, ordering, position):
        """Rows after `position` in `ordering`, whose columns all share one direction."""
        columns = Tuple(*(F(field.lstrip("-")) for field in ordering))
        after = TupleLessThan if ordering[0].startswith("-") else TupleGreaterThan
        return after(columns, position)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self.invalid_cursor() from None
        if cursor is None:
            return None
        return cursor._replace(position=self.decode_position(cursor.position))

    def decode_position(self, position):
        try:
            values = json.loads(position)
            fields = [self.field_of(name) for name in self.ordering]
            if not isinstance(values, list) or len(values) != len(fields) or None in values:
                raise ValueError
            return [field.to_python(value) for field, value in zip(fields, values, strict=True)]
        except (TypeError, ValueError, OverflowError, DjangoValidationError):
            raise self.invalid_cursor() from None

    def invalid_cursor(self):
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def field_of(self, name):
        return self.model._meta.get_field(name.lstrip("-"))

    def _get_position_from_instance(self, instance, ordering):
        values = [getattr(instance, field.lstrip("-")) for field in ordering]
        return json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])

    def get_next_link(self):
        if not (self.has_next and self.page):
            return None
        position = self._get_position_from_instance(self.page[-1], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))

    def get_previous_link(self):
        if not (self.has_previous and self.page):
            return None
        position = self._get_position_from_instance(self.page[0], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=position))

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
        return parameters

    def get_paginated_response(self, data):
        links = {"next": self.get_next_link(), "previous": self.get_previous_link()}
        return Response(Envelope(data=data, links=links))

    def get_paginated_response_schema(self, schema):
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
