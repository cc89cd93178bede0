"""Rate limits per client, kept in the shared cache so every worker counts together."""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


class FailOpenMixin:
    """Without the rate-limit store, serve unthrottled rather than fail every request."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("Rate limits not enforced, their store is unavailable: %s", exc)
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass
