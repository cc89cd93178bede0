"""Statement and lock timeouts: on while serving requests, lifted for migrations and big loads."""

from typing import Any

from django.conf import settings
from django.db import connections

# The timeouts a request runs under; settings.DATABASE_TIMEOUTS holds the ones
# this service sends on connect (libpq startup options), in milliseconds, unless
# a pooler is between (notes_project/postgresql/base.py).
NAMES = ("statement_timeout", "lock_timeout")


def lift_in_transaction(cursor: Any) -> None:
    """No timeouts until the current transaction ends (safe behind PgBouncer's transaction mode)."""
    for name in NAMES:
        cursor.execute(f"SET LOCAL {name} = 0")


def _sent_on_connect(using: str) -> bool:
    """Whether this connection runs with the timeouts it sent on connect, which a RESET
    returns to after a SET: none configured, or a pooler between (PgBouncer), sends none."""
    connection = connections[using]
    connection.ensure_connection()
    return bool(settings.DATABASE_TIMEOUTS) and not getattr(connection, "behind_pooler", False)


def lift_for_migrate(using: str = "default", **kwargs: Any) -> None:
    """pre_migrate: an index build or a wait for a table lock may take long; let it.

    A session setting, since each migration runs in a transaction of its own.
    Only done on a connection that sent the timeouts on connect, which means a
    direct one: behind a pooler a session setting would outlive the command on
    a pooled server connection, and other clients would run without timeouts.
    """
    if _sent_on_connect(using):
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"SET {name} = 0")


def restore_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: back to the startup options' values, for a process that goes on serving."""
    if _sent_on_connect(using):
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"RESET {name}")
