"""Content negotiation that settles the common case without parsing the Accept header."""

from rest_framework.negotiation import DefaultContentNegotiation


class FastContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, short-cut when the client takes the view's first renderer as it is.

    No Accept header, `*/*`, or exactly the first renderer's media type (JSON
    for the API) is what nearly every REST client sends; DRF would reach the
    same answer after parsing and ranking every media type.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0]
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            (accept == "*/*" or accept == first.media_type)
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
