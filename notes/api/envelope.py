"""The response envelope: `{"data": ...}` on success, `{"error": {...}}` on failure."""

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer


class Envelope(dict[str, Any]):
    """A response body that is already in its envelope (a page with links, or an error)."""


class EnvelopeJSONRenderer(JSONRenderer):
    """JSON renderer that wraps every body not already enveloped in `{"data": ...}`."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is not None and not isinstance(data, Envelope):
            data = Envelope(data=data)
        return super().render(data, accepted_media_type, renderer_context)
