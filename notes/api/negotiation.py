"""Content negotiation that settles the common case without parsing the Accept header."""

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FastContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, short-cut when the client takes the view's first renderer as it is.

    No Accept header, `*/*`, or exactly the first renderer's media type (JSON
    for the API) is what nearly every REST client sends; DRF would reach the
    same answer after parsing and ranking every media type.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        first = renderers[0]
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            (accept == "*/*" or accept == first.media_type)
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        selected: tuple[BaseRenderer, str] = super().select_renderer(
            request, renderers, format_suffix
        )
        return selected
