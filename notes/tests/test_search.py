"""Contract, Listing: search cost does not grow with the table, whatever the word.

A common word's first page reads as many table pages at 200,000 notes as at
20,000; a word in one note, or in none, reads a bounded walk of the newest
notes and then the search index, never the whole table, with or without the
planner's statistics. `seed` and `loaddata` gather those statistics anyway.
Pages read, not seconds, are asserted: they do not move with the machine's load.
"""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notes.api.filters import NoteFilter
from notes.models import Note

pytestmark = pytest.mark.django_db(transaction=True)

COMMON = "simplify"  # a word of the fixture's vocabulary, in about 1 note of 27
RARE = "zyzzyva"  # in no note that `seed` makes
# The whole (created_at, id) index walked newest first, checking every row,
# reads a page per note: 200,000 at 200,000 notes. A bounded walk reads a few
# thousand (page size x 100 rows), the search index a handful.
BOUNDED = 10_000


def seed(count):
    call_command("seed", "--fake", str(count), "--random-seed", str(count), verbosity=0)


def pages_read(client, words):
    """Table and index pages the list's statements read (EXPLAIN ANALYZE's buffers), and plans."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/notes/", {"search": words})
        assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries if "notes" in q["sql"]]
    assert statements
    pages, plans = 0, []
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0][0]["Plan"]  # psycopg decodes the JSON
            pages += plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
            plans.append(plan)
    return pages, json.dumps(plans), response.json()["data"]


def test_a_common_words_first_page_reads_as_much_at_200000_notes_as_at_20000(api_client):
    seed(20_000)
    small, _, _ = pages_read(api_client, COMMON)
    seed(180_000)
    large, plan, found = pages_read(api_client, COMMON)

    assert len(found) == 50
    assert large < 2 * small, plan


def test_a_word_in_one_note_is_found_without_reading_the_table(api_client):
    seed(200_000)
    # The oldest note, so a walk of the whole created_at index meets it last.
    Note.objects.create(content=f"Call the {RARE} exterminator")
    Note.objects.filter(content__contains=RARE).update(created_at="2000-01-01T00:00:00Z")

    pages, plan, found = pages_read(api_client, RARE)

    assert [note["content"] for note in found] == [f"Call the {RARE} exterminator"]
    assert pages < BOUNDED, plan
    assert "notes_search_vector_idx" in plan


def test_a_word_in_no_note_is_an_empty_page_without_reading_the_table(api_client):
    seed(200_000)

    pages, plan, found = pages_read(api_client, RARE)

    assert found == []
    assert pages < BOUNDED, plan
    assert "notes_search_vector_idx" in plan


def walk(client, url):
    """Follow links.next from `url`; return every page's ids and the last page's body."""
    pages = []
    while url:
        body = client.get(url).json()
        pages.append([note["id"] for note in body["data"]])
        url = body["links"]["next"]
    return pages, body


@pytest.mark.parametrize("ordering", ["created_at", "updated_at", "times_sent", "id"])
@pytest.mark.parametrize("prefix", ["", "-"])
def test_a_rare_words_later_pages_follow_the_cursor_both_ways(api_client, ordering, prefix):
    seed(5_000)
    # Three matches together (one walk finds a page of two and its successor),
    # then matches far apart in every column, which the walk cannot reach.
    rare = [Note.objects.create(content=f"{RARE} number {i}") for i in range(7)]
    for i, note in enumerate(rare):
        spread = i if i < 3 else 1_000 * i
        Note.objects.filter(pk=note.pk).update(
            created_at=note.created_at - timedelta(days=spread),
            updated_at=note.updated_at - timedelta(days=365 - spread),
            times_sent=spread,
        )
    rare = list(Note.objects.filter(content__contains=RARE))
    field = ordering
    expected = [
        n.id for n in sorted(rare, key=lambda n: (getattr(n, field), n.id), reverse=prefix == "-")
    ]
    url = f"/api/notes/?search={RARE}&ordering={prefix}{ordering}&page_size=2"

    pages, last = walk(api_client, url)
    back = []
    url = last["links"]["previous"]
    while url:
        body = api_client.get(url).json()
        back.insert(0, [note["id"] for note in body["data"]])
        url = body["links"]["previous"]

    assert pages == [expected[i : i + 2] for i in range(0, 7, 2)]
    assert back == pages[:-1]


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


def test_a_search_pages_what_its_filter_finds_and_no_other_filter_is_left_out(api_client):
    # The list pages a search by statements of its own (notes/selectors.py). They
    # apply the words alone: a filter added to NoteFilter must reach them too.
    assert list(NoteFilter.base_filters) == ["search"]
    seed(1_000)
    newest_first = Note.objects.order_by("-created_at", "-id")

    pages, _ = walk(api_client, f"/api/notes/?search={COMMON}&page_size=20")

    found = NoteFilter({"search": COMMON}, queryset=newest_first).qs
    assert len(pages) > 1
    assert [i for page in pages for i in page] == [note.id for note in found]
