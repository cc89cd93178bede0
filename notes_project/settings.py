"""Settings for the notes service, read from the environment (twelve-factor)."""

import logging
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from notes_project.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The committed .env holds development defaults (DEBUG on, a public key), so it
# is read only when asked, as cookiecutter-django does: the Makefile and the
# test settings ask. A deploy that sets nothing gets DEBUG off and no key.
# Real environment variables win over it.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

# The key committed in .env: good enough for a laptop, never for production.
DEVELOPMENT_SECRET_KEY = "django-insecure-notes-development-key-do-not-use-in-production"

# ------------------------------------------------------------------------------
# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
if not DEBUG and (SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "DEBUG is off, so SECRET_KEY must be a strong secret of 50+ characters, "
        "not the development key from .env."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True
ROOT_URLCONF = "notes_project.urls"
WSGI_APPLICATION = "notes_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# DATABASES
# ------------------------------------------------------------------------------


def _prepare_threshold(value: str) -> int | None:
    """Runs before psycopg prepares a statement; empty never prepares."""
    if not value:
        return None
    if not value.isdigit():
        raise ImproperlyConfigured("DATABASE_PREPARE_THRESHOLD takes a count: digits, or empty.")
    return int(value)


DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://postgres:postgres@127.0.0.1:5432/notes"
    )
}
DATABASES["default"].update(
    # Django's PostgreSQL backend with a cheaper connection health check.
    ENGINE="notes_project.postgresql",
    CONN_MAX_AGE=env.int("CONN_MAX_AGE", default=60),
    # A connection dropped by a database restart is replaced, not reused.
    CONN_HEALTH_CHECKS=env.bool("CONN_HEALTH_CHECKS", default=True),
    OPTIONS={
        # Fail fast when the database is unreachable instead of hanging a worker.
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=2),
        # Parameters sent apart from the statement, so psycopg can prepare a
        # statement after DATABASE_PREPARE_THRESHOLD runs on a connection and
        # PostgreSQL stops parsing and planning it: 40% less of its CPU per GET
        # (BENCHMARKS.md). Behind a pooler (PgBouncer), which the backend finds by
        # itself, nothing is prepared: a prepared statement lives on one server connection.
        "server_side_binding": env.bool("DATABASE_SERVER_SIDE_BINDING", default=True),
        "prepare_threshold": _prepare_threshold(env.str("DATABASE_PREPARE_THRESHOLD", default="5")),
    },
    # content counts characters, so every database must be UTF-8.
    TEST={"CHARSET": "UTF8", "TEMPLATE": "template0"},
)
# Server-side limits in milliseconds, so one stuck query or lock wait cannot hold
# a worker thread for long. Sent as libpq startup options, they hold from a
# connection's first query. Empty turns one off. A pooler (PgBouncer) refuses that
# startup parameter: the backend then connects without it, and the timeouts are the
# ones the pooler's server connections have (set on the role; docs/database-errors.md).
_timeouts = {
    "statement_timeout": env.str("DATABASE_STATEMENT_TIMEOUT", default="10000"),
    "lock_timeout": env.str("DATABASE_LOCK_TIMEOUT", default="5000"),
}
if not all(value.isdigit() for value in _timeouts.values() if value):
    raise ImproperlyConfigured("DATABASE_*_TIMEOUT take milliseconds: digits, or empty for none.")
# The timeouts every connection starts with, in milliseconds (none: {}), read by
# notes/database_timeouts.py, which lifts them for `migrate`.
DATABASE_TIMEOUTS = {name: int(ms) for name, ms in _timeouts.items() if ms}
if DATABASE_TIMEOUTS:
    DATABASES["default"]["OPTIONS"]["options"] = " ".join(
        f"-c {name}={ms}" for name, ms in DATABASE_TIMEOUTS.items()
    )

# ------------------------------------------------------------------------------
# MORE THAN ONE MACHINE (PgBouncer, a streaming replica; README "Running on more
# than one machine"). Unset, nothing here changes a request.
# ------------------------------------------------------------------------------
# Django's .iterator() without server-side cursors. Not needed behind PgBouncer: the
# backend finds the pooler and gives .iterator() outside a transaction a plain cursor.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
)
# `migrate` runs here (the primary without the pooler); its database name stays DATABASE_URL's.
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
if env.str("DATABASE_REPLICA_URL", default=""):
    _replica = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"] = {
        **DATABASES["default"],
        **{key: _replica[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        # A replica that does not answer is given up on sooner than the primary.
        "OPTIONS": {
            **DATABASES["default"]["OPTIONS"],
            "connect_timeout": env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=1),
        },
        "TEST": {**DATABASES["default"]["TEST"], "MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["notes.replica.PrimaryReplicaRouter"]
    # Seconds: how stale the replica may be before reads leave it, how often each
    # process checks, and how long a user's last write keeps pinning its reads.
    DATABASE_REPLICA_MAX_LAG = env.float("DATABASE_REPLICA_MAX_LAG", default=10)
    DATABASE_REPLICA_CHECK_INTERVAL = env.float("DATABASE_REPLICA_CHECK_INTERVAL", default=1)
    DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=60)

# ------------------------------------------------------------------------------
# REDIS (shared by every worker and instance)
# ------------------------------------------------------------------------------
# The rate limits' counters and, with a replica, the users' write positions,
# through one client per process (notes/redis_client.py).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Django's cache on the same Redis. No request uses it: `ensure_services`
# checks Redis through it, and the tests clear their Redis database with it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "notes",
        # An unreachable store must not hang requests.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# ------------------------------------------------------------------------------
# APPS AND MIDDLEWARE
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "csp",
    # Before notes: its handler records a failed login before notes.logins counts it.
    "axes",
    "rest_framework",
    # REST tokens as digests of their keys (in place of rest_framework.authtoken).
    "notes.tokens",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "notes",
    "notes.idempotency",
    # The HTTP layer: its checks and signal receivers connect in its ready().
    "notes.api",
]

# Entries from notes.api.browser_only are the framework's own middleware, in their
# own places, run only for requests that may come from a browser: a request to the
# notes or the health probes (API_CLIENT_PATHS) with no cookie that asks for no HTML
# page is an API client's, and has nothing for them to do (notes/api/browser_only.py).
MIDDLEWARE = [
    # First, so every response carries X-Request-ID and is timed: static files,
    # CORS preflights, 413s and the 400 of a bad Host included.
    "notes.api.request_id.RequestIdMiddleware",
    "notes.api.metrics.MetricsMiddleware",
    # Before anything that can answer, so those answers carry CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A Content-Security-Policy on every response to a browser (CONTENT_SECURITY_POLICY below).
    "notes.api.browser_only.CSPMiddleware",
    "notes.api.body_limit.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "notes.api.browser_only.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "notes.api.browser_only.CsrfViewMiddleware",
    "notes.api.browser_only.AuthenticationMiddleware",
    "notes.api.browser_only.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Around axes and the login views: refuses a login attempt over the spray
    # limit, or while another for its username and address is being checked,
    # before any password is hashed (notes/api/login_guard.py).
    "notes.api.browser_only.PasswordLoginGuardMiddleware",
    # Last (the replica's may follow), as axes asks: it turns a login refused by
    # a lock into the lock's answer, and everything above still adds its headers.
    # (Run for every request: axes' check looks for this exact path. For an API
    # client's request it only looks for a lock's mark on the request.)
    "axes.middleware.AxesMiddleware",
]
if "replica" in DATABASES:
    # Chooses each request's read database and records a user's writes for it.
    MIDDLEWARE.append("notes.api.read_your_writes.ReadYourWritesMiddleware")
API_CLIENT_PATHS = ("/api/notes", "/health/")
# Django's deployment check of CSRF looks for CsrfViewMiddleware's exact path in
# MIDDLEWARE; notes.W003 asks the same of the browser-only subclass above.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# Seconds each process keeps /health/ready's outcome: how stale its answer may be.
HEALTH_READY_CACHE_SECONDS = env.float("HEALTH_READY_CACHE_SECONDS", default=2.0)

# Bodies over this answer 413 before they are read (notes are 255 characters).
REQUEST_BODY_LIMIT = env.int("REQUEST_BODY_LIMIT", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_LIMIT

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# ------------------------------------------------------------------------------
# PASSWORD LOGINS (django-axes: the admin's and the browsable API's logins resist guessing)
# ------------------------------------------------------------------------------
# After LOGIN_FAILURE_LIMIT failed attempts for one username from one address,
# that username is refused from that address for LOGIN_LOCKOUT_MINUTES after
# the last of them, right password or not. The count lives in PostgreSQL (axes'
# database handler), so every worker and instance sees the same lock. Token
# requests never check a password, so they never read it. Before axes, every
# attempt counts against the spray limit (REST_FRAMEWORK's "login" rate), and a
# username from an address has one check under way at a time, both in Redis.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be 1 or more.")
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked (username, address) before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address the rate limits use (NUM_PROXIES decides whether X-Forwarded-For counts).
AXES_CLIENT_IP_CALLABLE = "notes.api.throttling.client_address"
# One answer for every lock, whether or not the username exists: 429, Retry-After.
AXES_LOCKOUT_CALLABLE = "notes.logins.lockout_response"
# A refused attempt does not restart the lock, so it ends LOGIN_LOCKOUT_MINUTES
# after the failure that set it; a successful login clears its own count.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# No row per successful login (a table that would only grow), and no banner
# line at every start: notes.logins logs and counts the failures and locks.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# ------------------------------------------------------------------------------
# STATIC FILES (served by WhiteNoise, so pages look right with DEBUG off)
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# ------------------------------------------------------------------------------
# SECURITY (HTTPS settings follow one switch, so plain-HTTP local runs still work)
# ------------------------------------------------------------------------------
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every page runs only the service's own scripts (django-csp): no inline script,
# no other origin. Styles come from the service too, and may be inline: the
# browsable API, Swagger UI and ReDoc write theirs into the page as they render.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        # ReDoc's own script starts a worker from a blob it made itself.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# ------------------------------------------------------------------------------
# CORS (browser apps on other origins; django-cors-headers)
# ------------------------------------------------------------------------------
# None by default: a browser on another origin cannot read the API's answers.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# The API and its probes; the admin and the browsable API stay same-origin.
CORS_URLS_REGEX = r"^/(api|health)(/.*)?$"
CORS_ALLOW_HEADERS = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
]
CORS_EXPOSE_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"]

# ------------------------------------------------------------------------------
# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
NOTES_PUBLIC_READ = env.bool("NOTES_PUBLIC_READ", default=True)

# How long a token's user is remembered per process (notes.api.authentication):
# the longest a deleted token or deactivated user keeps working in other
# processes. The process that made the change forgets it at once. 0: no cache.
TOKEN_CACHE_SECONDS = env.int("TOKEN_CACHE_SECONDS", default=10)
# Seconds a token is accepted after its creation; unset, tokens do not age. An
# older one answers 401 token_expired, checked on every request, cached or not.
TOKEN_MAX_AGE = env.int("TOKEN_MAX_AGE", default=None)
if TOKEN_MAX_AGE is not None and TOKEN_MAX_AGE < 1:
    raise ImproperlyConfigured("TOKEN_MAX_AGE takes seconds, 1 or more; unset it for no ageing.")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "notes.api.envelope.EnvelopeJSONRenderer",
        # DRF's, with no inline script (the Content-Security-Policy refuses them).
        "notes.api.browsable.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "notes.api.negotiation.FastContentNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "notes.api.parsers.DepthSafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its scheme goes into WWW-Authenticate, which turns
        # "not authenticated" into a 401 rather than a 403.
        "notes.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["notes.api.permissions.IsAuthenticatedOrPublicRead"],
    "DEFAULT_THROTTLE_CLASSES": [
        "notes.api.throttling.AnonRateThrottle",
        "notes.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("NOTES_THROTTLE_ANON", default="100/minute"),
        "user": env.str("NOTES_THROTTLE_USER", default="1000/minute"),
        # Password login attempts per address, whatever the username (the spray
        # limit), counted before any password is checked.
        "login": env.str("NOTES_THROTTLE_LOGIN", default="10/minute"),
    },
    # Anonymous clients are told apart by address. X-Forwarded-For is only
    # believed from this many trusted proxies in front; by default none, so a
    # client cannot dodge its rate limit by inventing the header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_PAGINATION_CLASS": "notes.api.pagination.KeysetCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "notes.api.filters.StrictOrderingFilter",
    ],
    "EXCEPTION_HANDLER": "notes.api.errors.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "notes.api.schema.EnvelopeAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Notes API",
    "DESCRIPTION": (
        "Notes with send counters. Every JSON body is an envelope: "
        '`{"data": ...}` on success, `{"error": {...}}` on failure.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    # Tag operations by the segment after /api/ ("notes"), not "api".
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Success bodies described inside {"data": ...}, as they are sent.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "notes.api.schema.envelope_success_bodies",
    ],
}

# ------------------------------------------------------------------------------
# LOGGING (to stderr, gunicorn's access log to stdout; the same config as gunicorn's)
# ------------------------------------------------------------------------------
# plain: readable lines; json: one object a line, for a log collector.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))
# Python's warnings become log lines too, in the same format.
logging.captureWarnings(True)

# ------------------------------------------------------------------------------
# METRICS (Prometheus, served by gunicorn's master on METRICS_HOST:METRICS_PORT)
# ------------------------------------------------------------------------------
# Unset: no metrics, and the metrics middleware is not even in the stack.
METRICS_PORT = env.int("METRICS_PORT", default=None)
