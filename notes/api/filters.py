"""Query parameters of the note list: full-text `search` and strict `ordering`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django_filters
from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from notes.models import SEARCH_CONFIG, Note

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class NoteFilter(django_filters.FilterSet):  # type: ignore[misc]
    search = django_filters.CharFilter(
        method="filter_search",
        label="Words that must all appear in content (PostgreSQL full-text search).",
    )

    class Meta:
        model = Note
        fields = ["search"]

    @extend_schema_field({"type": "string", "pattern": r"^[^\x00]*$"})
    def filter_search(self, queryset: QuerySet[Note], name: str, value: str) -> QuerySet[Note]:
        # The stored vector's configuration, so its GIN index serves the query;
        # plainto_tsquery ANDs the words. The list pages a search by statements
        # of its own (views.py), which test_search.py checks against this.
        query = SearchQuery(value, config=SEARCH_CONFIG, search_type="plain")
        return queryset.filter(search_vector=query)


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering filter, but one known field or a 400, and ties always broken by id."""

    tie_breaker = "id"

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> tuple[str, ...]:
        param = request.query_params.get(self.ordering_param)
        if param is None:
            field = (self.get_default_ordering(view) or [""])[0]
        elif param in self.get_allowed(view):
            field = param
        else:
            allowed = ", ".join(self.get_allowed(view))
            raise ValidationError({self.ordering_param: [f"Must be one of: {allowed}."]})
        if field.lstrip("-") == self.tie_breaker:
            return (field,)
        descending = field.startswith("-")
        return (field, f"-{self.tie_breaker}" if descending else self.tie_breaker)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        parameters[0]["schema"]["enum"] = self.get_allowed(view)
        default = getattr(view, "ordering", None)
        parameters[0]["description"] = f"Sort order; default {default}, ties broken by id."
        return parameters

    def get_allowed(self, view: APIView) -> list[str]:
        fields: list[str] = getattr(view, "ordering_fields", [])
        return [prefix + field for field in fields for prefix in ("", "-")]
