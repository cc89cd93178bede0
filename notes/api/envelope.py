"""The response envelope: `{"data": ...}` on success, `{"error": {...}}` on failure."""

from rest_framework.renderers import JSONRenderer


class Envelope(dict):
    """A response body that is already in its envelope (a page with links, or an error)."""


class EnvelopeJSONRenderer(JSONRenderer):
    """JSON renderer that wraps every body not already enveloped in `{"data": ...}`."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is not None and not isinstance(data, Envelope):
            data = Envelope(data=data)
        return super().render(data, accepted_media_type, renderer_context)
