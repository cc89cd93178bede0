"""Check that PostgreSQL and Redis answer, and create the database if it is missing."""

from typing import Any

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Check that PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) answer; create the database."

    def handle(self, *args: Any, **options: Any) -> None:
        self.ensure_database(settings.DATABASES["default"])
        self.ensure_cache()

    def ensure_database(self, db: dict[str, Any]) -> None:
        # Connect to the server's maintenance database: ours may not exist yet.
        params: dict[str, Any] = {
            "host": db["HOST"] or None,
            "port": db["PORT"] or None,
            "user": db["USER"] or None,
            "password": db["PASSWORD"] or None,
            "connect_timeout": 3,
        }
        try:
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
                ).fetchone()
                if not exists:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                            sql.Identifier(db["NAME"])
                        )
                    )
                    self.stdout.write(f"Created database {db['NAME']}.")
        except psycopg.OperationalError as exc:
            raise CommandError(
                f"PostgreSQL at DATABASE_URL (host {db['HOST']}, port {db['PORT']}) does not "
                f"answer: {exc}. Start it, or set DATABASE_URL to one that runs."
            ) from exc

    def ensure_cache(self) -> None:
        try:
            cache.get("ensure_services")
        except Exception as exc:
            raise CommandError(
                f"Redis at REDIS_URL does not answer: {exc}. Start it, or set REDIS_URL."
            ) from exc
