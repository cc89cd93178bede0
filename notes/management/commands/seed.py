"""Seed the notes table: the bundled fixture idempotently, or N generated notes fast."""

import json
import random
import re
import sys
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm  # type: ignore[import-untyped]

from notes.database_timeouts import lift_in_transaction
from notes.models import Note

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "notes.json"
COPY_SQL = "COPY notes (content, times_sent, created_at, updated_at) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["varchar", "int4", "timestamptz", "timestamptz"]
BATCH = 20_000


def fixture_contents() -> list[str]:
    return [item["fields"]["content"] for item in json.loads(FIXTURE.read_text())]


class FakeNotes:
    """Plausible notes built from the fixture's vocabulary, made a batch at a time."""

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)
        words = re.findall(r"[a-z']+", " ".join(fixture_contents()).lower())
        self.words = sorted(set(words))
        self.now = timezone.now().timestamp()

    def rows(self, count: int) -> Iterator[tuple[str, int, datetime, datetime]]:
        # Drawing every random value of the batch in a few calls keeps
        # Python's share of a million-note seed to a few seconds.
        draw = self.random
        lengths = [draw.randint(2, 14) for _ in range(count)]
        words = iter(draw.choices(self.words, k=sum(lengths)))
        ages = draw.choices(range(365 * 24 * 3600), k=count)
        for length, age in zip(lengths, ages, strict=True):
            content = " ".join(islice(words, length)).capitalize() + "."
            created = datetime.fromtimestamp(self.now - age, UTC)
            # Most notes are never sent; a few are sent a lot.
            times_sent = min(int(draw.expovariate(1.5)), 50)
            yield content, times_sent, created, created


class Command(BaseCommand):
    help = "Load the bundled notes once (idempotent), or add N generated notes with --fake N."
    # From this many generated notes on, indexes are dropped and rebuilt after the load.
    rebuild_indexes_from = 50_000

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--fake", type=int, metavar="N", help="add N generated notes")
        parser.add_argument("--random-seed", type=int, help="make --fake repeatable")

    def handle(
        self, *args: Any, fake: int | None = None, random_seed: int | None = None, **options: Any
    ) -> None:
        if fake is None:
            self.seed_fixture()
        elif fake < 1:
            raise CommandError("--fake needs a positive number of notes.")
        else:
            self.seed_fake(fake, FakeNotes(random_seed))

    def seed_fixture(self) -> None:
        # Idempotent by content, so seeding never duplicates a note nor
        # collides with ids that users' notes already took.
        contents = fixture_contents()
        present = set(Note.objects.filter(content__in=contents).values_list("content", flat=True))
        missing = [Note(content=content) for content in contents if content not in present]
        Note.objects.bulk_create(missing)
        analyze()
        self.stdout.write(f"Seeded {len(missing)} note(s); {len(present)} already present.")

    @transaction.atomic
    def seed_fake(self, count: int, fake: FakeNotes) -> None:
        # One transaction keeps it all-or-nothing.
        # A big load outlasts the statement timeout meant for requests, and may
        # wait for the table lock.
        with connection.cursor() as cursor:
            lift_in_transaction(cursor)
        if count < self.rebuild_indexes_from:
            self.copy_rows(count, fake)
        else:
            with self.indexes_rebuilt_after():
                self.copy_rows(count, fake)
        analyze()
        self.stdout.write(f"Added {count} generated note(s).")

    @contextmanager
    def indexes_rebuilt_after(self) -> Iterator[None]:
        """Drop the indexes, then build each once: faster than row-by-row upkeep for big loads.

        The table is locked, reads included, until the transaction ends.
        """
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        with connection.schema_editor() as editor:
            for index in Note._meta.indexes:
                editor.remove_index(Note, index)
        yield
        self.stderr.write("Building indexes...")
        with connection.schema_editor() as editor:
            for index in Note._meta.indexes:
                editor.add_index(Note, index)

    def copy_rows(self, count: int, fake: FakeNotes) -> None:
        # COPY is the fastest way into PostgreSQL.
        progress = tqdm(total=count, unit=" notes", file=sys.stderr)
        with progress, connection.cursor() as cursor, cursor.cursor.copy(COPY_SQL) as copy:
            copy.set_types(COPY_TYPES)
            for start in range(0, count, BATCH):
                size = min(BATCH, count - start)
                for row in fake.rows(size):
                    copy.write_row(row)
                progress.update(size)


def analyze() -> None:
    """Table statistics now, not when autovacuum next looks (if it runs at all): without
    them the planner cannot tell a rare search word from a common one, and may walk the
    whole created_at index for a word that occurs once."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Note._meta.db_table)}")
