"""Delete idempotency keys past their 24 hours (run it from cron, say hourly)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from notes.idempotency import store


class Command(BaseCommand):
    help = "Delete idempotency keys older than 24 hours, in batches."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch", type=int, default=10_000, help="rows per DELETE")

    def handle(self, *args: Any, batch: int, **options: Any) -> None:
        deleted = store.purge(batch)
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
