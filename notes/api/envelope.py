"""The response envelope: `{"data": ...}` on success, `{"error": {...}}` on failure."""

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# DRF's encoder for what orjson does not know itself (lazy translations, Decimals, ...).
_fallback = JSONEncoder().default
# Line and paragraph separators are valid JSON but end a line in JavaScript;
# DRF escapes them so a response can be embedded in a <script>, and so do we.
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class Envelope(dict[str, Any]):
    """A response body that is already in its envelope (a page with links, or an error)."""


class EnvelopeJSONRenderer(JSONRenderer):
    """JSON renderer that wraps every body not already enveloped in `{"data": ...}`.

    Compact JSON is written by orjson, several times faster than the standard
    library on every response; indented output (the browsable API's) stays DRF's.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is not None and not isinstance(data, Envelope):
            data = Envelope(data=data)
        if data is None or self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        body = orjson.dumps(data, default=_fallback)
        for separator, escaped in _SEPARATORS:
            if separator in body:
                body = body.replace(separator, escaped)
        return body
