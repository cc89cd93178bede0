"""Seed the notes table: the bundled fixture idempotently, or N generated notes fast."""

import json
import random
import re
import sys
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from notes.models import Note

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "notes.json"
COPY_SQL = "COPY notes (content, times_sent, created_at, updated_at) FROM STDIN"
BATCH = 20_000


def fixture_contents():
    return [item["fields"]["content"] for item in json.loads(FIXTURE.read_text())]


class FakeNotes:
    """Endless plausible notes, built from the fixture's vocabulary."""

    def __init__(self, seed=None):
        self.random = random.Random(seed)
        words = re.findall(r"[a-z']+", " ".join(fixture_contents()).lower())
        self.words = sorted(set(words))
        self.now = timezone.now()

    def row(self):
        words = self.random.choices(self.words, k=self.random.randint(3, 24))
        content = " ".join(words).capitalize() + "."
        created = self.now - timedelta(seconds=self.random.randint(0, 365 * 24 * 3600))
        # Most notes are never sent; a few are sent a lot.
        times_sent = min(int(self.random.expovariate(1.5)), 50)
        return content, times_sent, created, created


class Command(BaseCommand):
    help = "Load the bundled notes once (idempotent), or add N generated notes with --fake N."

    def add_arguments(self, parser):
        parser.add_argument("--fake", type=int, metavar="N", help="add N generated notes")
        parser.add_argument("--random-seed", type=int, help="make --fake repeatable")

    def handle(self, *args, fake=None, random_seed=None, **options):
        if fake is None:
            self.seed_fixture()
        elif fake < 1:
            raise CommandError("--fake needs a positive number of notes.")
        else:
            self.seed_fake(fake, FakeNotes(random_seed))

    def seed_fixture(self):
        # Idempotent by content, so seeding never duplicates a note nor
        # collides with ids that users' notes already took.
        contents = fixture_contents()
        present = set(Note.objects.filter(content__in=contents).values_list("content", flat=True))
        missing = [Note(content=content) for content in contents if content not in present]
        Note.objects.bulk_create(missing)
        self.stdout.write(f"Seeded {len(missing)} note(s); {len(present)} already present.")

    @transaction.atomic
    def seed_fake(self, count, fake):
        # COPY is the fastest way into PostgreSQL; one transaction keeps it all-or-nothing.
        progress = tqdm(total=count, unit=" notes", file=sys.stderr)
        with progress, connection.cursor() as cursor, cursor.cursor.copy(COPY_SQL) as copy:
            for start in range(0, count, BATCH):
                size = min(BATCH, count - start)
                for _ in range(size):
                    copy.write_row(fake.row())
                progress.update(size)
        self.stdout.write(f"Added {count} generated note(s).")
