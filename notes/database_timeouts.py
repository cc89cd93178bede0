"""Statement and lock timeouts: on while serving requests, lifted for migrations and big loads."""

from typing import Any

from django.conf import settings
from django.db import connections

# The timeouts a request runs under; settings.DATABASE_TIMEOUTS holds the ones
# this service sends on connect (libpq startup options), in milliseconds.
NAMES = ("statement_timeout", "lock_timeout")


def lift_in_transaction(cursor: Any) -> None:
    """No timeouts until the current transaction ends (safe behind PgBouncer's transaction mode)."""
    for name in NAMES:
        cursor.execute(f"SET LOCAL {name} = 0")


def _sent_on_connect() -> bool:
    # Only this service's own startup options can be RESET to after a SET; with
    # none (behind PgBouncer, which sets them per server connection) nothing is lifted.
    return bool(settings.DATABASE_TIMEOUTS)


def lift_for_migrate(using: str = "default", **kwargs: Any) -> None:
    """pre_migrate: an index build or a wait for a table lock may take long; let it.

    A session setting, since each migration runs in a transaction of its own.
    Only done when the service sends the timeouts on connect
    (settings.DATABASE_TIMEOUTS), which means a direct connection: behind
    PgBouncer a session setting would outlive the command on a pooled server
    connection.
    """
    if _sent_on_connect():
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"SET {name} = 0")


def restore_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: back to the startup options' values, for a process that goes on serving."""
    if _sent_on_connect():
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"RESET {name}")
