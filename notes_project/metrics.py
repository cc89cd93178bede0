"""The service's Prometheus metrics; gunicorn's workers share them through PROMETHEUS_MULTIPROC_DIR.

Every metric has labels, so none writes a file before its first use (which
would happen in gunicorn's master, that serves no request).
"""

import functools
import logging
import re
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "notes_http_request_duration_seconds",
    "Time from the request reaching Django to its response leaving it.",
    ["method", "route", "status"],
)
THROTTLED_REQUESTS = Counter(
    "notes_http_throttled_requests",
    "Requests refused by a rate limit (429).",
    ["method", "route"],
)
IDEMPOTENT_REPLAYS = Counter(
    "notes_http_idempotent_replays",
    "Requests answered with a stored response for a reused Idempotency-Key.",
    ["method", "route"],
)
DATABASE_ERRORS = Counter(
    "notes_database_errors",
    "Errors raised by the database driver, by class (OperationalError, UniqueViolation, ...).",
    ["error"],
)
LOGIN_FAILURES = Counter(
    "notes_login_failures",
    "Password logins that failed: a wrong username or password, or a refusal by a lock.",
    ["route"],
)
LOGIN_LOCKOUTS = Counter(
    "notes_login_lockouts",
    "Password logins refused by a lock: the failure that set it, and every attempt while it holds.",
    ["route"],
)


NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@functools.lru_cache(maxsize=256)
def route_label(route: str) -> str:
    """Django's route of the matched URL, its regular expressions made readable: the
    label of every metric by route (the requests', the logins').

    `api/^notes/(?P<pk>\\d+)/?$` becomes `api/notes/{pk}/`; a `path()` route
    such as `admin/<path:url>` stays as it is.
    """
    readable = NAMED_GROUP.sub(r"{\1}", route).replace("/?", "/")
    return readable.replace("^", "").replace("$", "") or "/"


class WalArchivingCollector:
    """The primary's WAL archiving, read from pg_stat_archiver at each scrape (gunicorn's
    master serves it, beside the workers' counts): so an alert can say that archiving is
    stuck, or failing, long before a restore needs the archive. Nothing where archiving is
    off, and nothing (with a warning in the log) while the database does not answer."""

    def collect(self) -> Iterator[Metric]:
        from django.db import DatabaseError, connections

        from notes.selectors import wal_archiving

        try:
            archiving = wal_archiving()
        except DatabaseError as exc:
            logger.warning("WAL archiving not read for the metrics: %s", exc)
            return
        finally:
            connections.close_all()  # the exporter's thread keeps no connection between scrapes
        if archiving is None:
            return
        if archiving.seconds_since_archived is not None:
            yield GaugeMetricFamily(
                "notes_wal_archived_age_seconds",
                "Seconds since the primary last archived a WAL segment.",
                value=archiving.seconds_since_archived,
            )
        yield CounterMetricFamily(
            "notes_wal_archive_failures",
            "Attempts of the primary to archive a WAL segment that failed, since its start.",
            value=archiving.failed_attempts,
        )
