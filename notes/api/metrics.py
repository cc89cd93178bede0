"""Prometheus metrics of every request: duration by method, route and status; 429s and replays."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

from notes_project.metrics import (
    IDEMPOTENT_REPLAYS,
    REQUEST_DURATION,
    THROTTLED_REQUESTS,
    route_label,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

# Methods are the client's to invent; each label value is a new series, so
# anything unknown counts as one.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Times each request; removed from the stack unless METRICS_PORT is set, so free then."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if settings.METRICS_PORT is None:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.static_prefix = f"/{settings.STATIC_URL.lstrip('/')}"

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        method = request.method if request.method in KNOWN_METHODS else "other"
        route = self.route_of(request)
        status = response.status_code
        REQUEST_DURATION.labels(method, route, str(status)).observe(duration)
        if status == 429:
            THROTTLED_REQUESTS.labels(method, route).inc()
        if response.get("Idempotent-Replayed") == "true":
            IDEMPOTENT_REPLAYS.labels(method, route).inc()
        return response

    def route_of(self, request: HttpRequest) -> str:
        match = request.resolver_match
        if match is not None:
            return route_label(match.route)
        # Answered before URL resolution: WhiteNoise's files, CORS preflights, 413s.
        return "static" if request.path.startswith(self.static_prefix) else "unmatched"
