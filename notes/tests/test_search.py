"""Contract, Listing: search cost does not grow with the table.

A common word's first page reads as many table pages at 200,000 notes as at
20,000, and `seed` and `loaddata` gather the table statistics the planner needs
to tell common words from rare ones. Pages read, not seconds, are asserted: they
do not move with the machine's load.
"""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db(transaction=True)

COMMON = "simplify"  # a word of the fixture's vocabulary, in about 1 note of 60


def seed(count):
    call_command("seed", "--fake", str(count), "--random-seed", str(count), verbosity=0)


def pages_read(client, words):
    """Table and index pages the list query reads (EXPLAIN ANALYZE's buffers), and its plan."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/notes/", {"search": words}).status_code == 200
    sql = next(q["sql"] for q in queries.captured_queries if 'FROM "notes"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0][0]["Plan"]  # psycopg decodes the JSON
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"], json.dumps(plan)


def test_a_common_words_first_page_reads_as_much_at_200000_notes_as_at_20000(api_client):
    seed(20_000)
    small, _ = pages_read(api_client, COMMON)
    seed(180_000)
    large, plan = pages_read(api_client, COMMON)

    assert large < 2 * small, plan


def test_loaddata_gathers_the_statistics_of_what_it_loaded(api_client):
    call_command("loaddata", "notes", verbosity=0)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'notes'")
        assert cursor.fetchone()[0] > 0


def test_seed_gathers_the_statistics_of_what_it_loaded():
    seed(1_000)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems IS NOT NULL FROM pg_stats WHERE attname = 'search_vector'"
        )
        assert cursor.fetchone() == (True,)
