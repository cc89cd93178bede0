"""Django's migrate, serialized: when instances run it at once, each migration applies once."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import environ
import psycopg
from django.conf import settings
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend

# Any fixed 64-bit number: the advisory lock every migrate of this project takes.
LOCK_KEY = 0x6E6F7465735F6D67  # "notes_mg"
DIRECT_KEYS = ("HOST", "PORT", "USER", "PASSWORD")
# Waiting for another migrate is not a stuck query: no server-side timeout may end it.
NO_TIMEOUTS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")


class Command(migrate.Command):
    help = (
        migrate.Command.help + " Concurrent runs wait for each other (an advisory lock); "
        "with DATABASE_DIRECT_URL set, the default database is migrated over that connection."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        with direct_connection(alias), self.migration_lock(alias):
            super().handle(*args, **options)

    @contextmanager
    def migration_lock(self, alias: str) -> Iterator[None]:
        """Hold the project's advisory lock, on a connection of its own, while migrate runs.

        A transaction-level lock in a transaction kept open: it also holds through
        a transaction pooler (PgBouncer pins the server connection while the
        transaction lasts), where a session lock would stay behind on a pooled
        server connection. It ends with the connection, so a killed migrate
        frees it. The waiting may take as long as the migrations do.
        """
        db = connections[alias].settings_dict
        params = {
            "host": db["HOST"] or None,
            "port": db["PORT"] or None,
            "user": db["USER"] or None,
            "password": db["PASSWORD"] or None,
            "dbname": db["NAME"],
            "connect_timeout": db["OPTIONS"].get("connect_timeout", 10),
        }
        with psycopg.connect(**params) as lock:
            for setting in NO_TIMEOUTS:
                lock.execute(f"SET LOCAL {setting} = 0")
            row = lock.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY]).fetchone()
            if not (row and row[0]):
                self.stdout.write("Another migrate is running; waiting for it to finish.")
                lock.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            yield


@contextmanager
def direct_connection(alias: str) -> Iterator[None]:
    """With DATABASE_DIRECT_URL, migrate the default database through it, not a pooler.

    The alias names, for this thread, a connection of its own, made as Django makes
    any (load_backend's DatabaseWrapper) from a copy of its settings with the direct
    URL's address and credentials; the configured connection is set back after.
    """
    if not settings.DATABASE_DIRECT_URL or alias != DEFAULT_DB_ALIAS:
        yield
        return
    configured = connections[alias]
    url = environ.Env.db_url_config(settings.DATABASE_DIRECT_URL)
    direct_settings = {**configured.settings_dict, **{key: url[key] for key in DIRECT_KEYS}}
    direct = load_backend(direct_settings["ENGINE"]).DatabaseWrapper(direct_settings, alias)
    connections[alias] = direct
    try:
        yield
    finally:
        direct.close()
        connections[alias] = configured
