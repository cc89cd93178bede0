"""Statement and lock timeouts: on while serving requests, lifted for migrations and big loads."""

from typing import Any

from django.db import connections

# The timeouts come from DATABASE_*_TIMEOUT as libpq startup options (settings).
NAMES = ("statement_timeout", "lock_timeout")


def lift_in_transaction(cursor: Any) -> None:
    """No timeouts until the current transaction ends (safe behind PgBouncer's transaction mode)."""
    for name in NAMES:
        cursor.execute(f"SET LOCAL {name} = 0")


def _set_by_options(using: str) -> bool:
    options: str = connections[using].settings_dict["OPTIONS"].get("options", "")
    return "timeout" in options


def lift_for_migrate(using: str = "default", **kwargs: Any) -> None:
    """pre_migrate: an index build or a wait for a table lock may take long; let it.

    A session setting, since each migration runs in a transaction of its own.
    Only done when the timeouts come from the startup options, which means a
    direct connection: behind PgBouncer a session setting would outlive the
    command on a pooled server connection.
    """
    if _set_by_options(using):
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"SET {name} = 0")


def restore_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: back to the startup options' values, for a process that goes on serving."""
    if _set_by_options(using):
        with connections[using].cursor() as cursor:
            for name in NAMES:
                cursor.execute(f"RESET {name}")
