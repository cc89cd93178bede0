"""The service's Prometheus metrics; gunicorn's workers share them through PROMETHEUS_MULTIPROC_DIR.

Every metric has labels, so none writes a file before its first use (which
would happen in gunicorn's master, that serves no request).
"""

from prometheus_client import Counter, Histogram

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
