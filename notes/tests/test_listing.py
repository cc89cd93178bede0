"""Contract, Listing: page sizes, orderings, full-text search and cursors that never repeat."""

import re
from base64 import b64encode
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notes.models import Note

pytestmark = pytest.mark.django_db

ORDERINGS = ["id", "created_at", "updated_at", "times_sent"]


def walk(client, url):
    """Follow links.next from `url`; return the ids seen, page by page."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([note["id"] for note in body["data"]])
        url = body["links"]["next"]
    return pages


@pytest.fixture
def varied_notes(make_notes):
    """Notes whose every sort column has ties, so only the id tie-break decides."""
    notes = make_notes(30)
    base = timezone.now()
    for i, note in enumerate(notes):
        note.times_sent = i % 3
        note.created_at = base - timedelta(minutes=i % 4)
        note.updated_at = base - timedelta(minutes=i % 5)
    Note.objects.bulk_update(notes, ["times_sent", "created_at", "updated_at"])
    return list(Note.objects.all())


def expected_ids(notes, field, descending):
    ordered = sorted(notes, key=lambda n: (getattr(n, field), n.id), reverse=descending)
    return [note.id for note in ordered]


def test_the_default_page_is_50_notes_newest_first(api_client, make_notes):
    notes = make_notes(60)

    body = api_client.get("/api/notes/").json()

    assert len(body["data"]) == 50
    assert [n["id"] for n in body["data"]] == expected_ids(notes, "created_at", True)[:50]
    assert body["links"]["next"] is not None


@pytest.mark.parametrize("field", ORDERINGS)
@pytest.mark.parametrize("descending", [False, True])
def test_each_ordering_sorts_with_ties_broken_by_id(api_client, varied_notes, field, descending):
    ordering = f"-{field}" if descending else field

    pages = walk(api_client, f"/api/notes/?ordering={ordering}&page_size=7")

    assert [i for page in pages for i in page] == expected_ids(varied_notes, field, descending)


@pytest.mark.parametrize("ordering", ["content", "-content", "id,-id", "", "random", "--id", "pk"])
def test_any_other_ordering_is_a_400(api_client, ordering):
    response = api_client.get("/api/notes/", {"ordering": ordering})

    assert response.status_code == 400
    assert "ordering" in response.json()["error"]["details"]


@pytest.mark.parametrize("size", [1, 1000])
def test_page_size_accepts_1_to_1000(api_client, make_notes, size):
    make_notes(3)

    response = api_client.get("/api/notes/", {"page_size": size})

    assert response.status_code == 200
    assert len(response.json()["data"]) == min(size, 3)


@pytest.mark.parametrize("size", ["0", "1001", "-5", "abc", "", "1.5", "²"])
def test_page_size_out_of_range_is_a_400(api_client, size):
    response = api_client.get("/api/notes/", {"page_size": size})

    assert response.status_code == 400
    assert "page_size" in response.json()["error"]["details"]


@pytest.mark.parametrize("ordering", ["times_sent", "-times_sent", "-created_at"])
def test_the_walk_visits_a_thousand_tied_notes_exactly_once(api_client, make_notes, ordering):
    # One timestamp and one times_sent for all: DRF's offset cursor gives up here.
    ids = {note.id for note in make_notes(1000, times_sent=0)}

    pages = walk(api_client, f"/api/notes/?ordering={ordering}&page_size=37")

    seen = [i for page in pages for i in page]
    assert len(seen) == len(set(seen)) == 1000
    assert set(seen) == ids
    assert len(pages) == 28


def test_previous_links_walk_back_over_the_same_pages(api_client, make_notes):
    make_notes(25, times_sent=1)
    forward = walk(api_client, "/api/notes/?ordering=times_sent&page_size=10")

    last = api_client.get("/api/notes/?ordering=times_sent&page_size=10")
    while last.json()["links"]["next"]:
        last = api_client.get(last.json()["links"]["next"])
    backward, url = [], last.json()["links"]["previous"]
    while url:
        body = api_client.get(url).json()
        backward.insert(0, [note["id"] for note in body["data"]])
        url = body["links"]["previous"]

    assert backward == forward[:-1]


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "id", "-times_sent"])
def test_notes_added_during_a_walk_do_not_repeat_or_hide_others(auth_client, make_notes, ordering):
    """Catches pages that repeat or hide notes as others are added, and a walk that added
    none (a create refused, or failing): each of its writes must answer 201."""
    original = {note.id for note in make_notes(40)}
    url, seen = f"/api/notes/?ordering={ordering}&page_size=9", []
    while url:
        body = auth_client.get(url).json()
        seen += [note["id"] for note in body["data"]]
        assert auth_client.post("/api/notes/", {"content": "added mid-walk"}).status_code == 201
        url = body["links"]["next"]

    assert len(seen) == len(set(seen))
    assert original <= set(seen)


def cursor_for(position):
    """A cursor as the service encodes one, holding any position."""
    return b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "ü",
        cursor_for("[]"),
        cursor_for('["not-a-date", 1]'),
        cursor_for("{"),
        cursor_for("[null, 1]"),
        cursor_for('["2026-01-01T00:00:00Z", 1e400]'),
        cursor_for('["2026-01-01T00:00:00Z", "\u0000"]'),
        cursor_for('["2026-01-01T00:00:00Z", 1, 2]'),
        cursor_for('["2026-01-01T00:00:00Z", 1e30]'),
    ],
)
def test_a_bad_cursor_is_a_400(api_client, note, cursor):
    response = api_client.get("/api/notes/", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor."]}


def test_a_cursor_past_every_id_is_an_empty_page(api_client, note):
    response = api_client.get(
        "/api/notes/", {"ordering": "id", "cursor": cursor_for("[2147483647]")}
    )

    assert response.status_code == 200
    assert response.json()["data"] == []


@pytest.mark.parametrize("ordering", ["id", "times_sent", "-times_sent"])
@pytest.mark.parametrize("value", ["1e30", "-1e30", "2147483648", "-2147483649"])
@pytest.mark.parametrize("search", [None, "milk"])
def test_a_cursor_outside_postgresqls_integers_is_a_400(api_client, note, ordering, value, search):
    position = f"[{value}]" if ordering == "id" else f"[{value}, 1]"
    params = {"ordering": ordering, "cursor": cursor_for(position)}
    response = api_client.get("/api/notes/", params | ({"search": search} if search else {}))

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor."]}


def test_listing_never_counts_the_table(api_client, make_notes):
    make_notes(120)
    with CaptureQueriesContext(connection) as queries:
        walk(api_client, "/api/notes/?page_size=50")

    assert queries.captured_queries
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.fixture
def library(db):
    contents = [
        "Buy milk and bread",
        "Bread recipes from grandmother",
        "Milk the cows at dawn",
        "Walking the dog",
        "The dogs walked themselves",
    ]
    return {c: Note.objects.create(content=c).id for c in contents}


def search(client, words):
    response = client.get("/api/notes/", {"search": words})
    assert response.status_code == 200
    return {note["content"] for note in response.json()["data"]}


def test_search_requires_every_word(api_client, library):
    assert search(api_client, "milk bread") == {"Buy milk and bread"}
    assert search(api_client, "bread") == {"Buy milk and bread", "Bread recipes from grandmother"}


def test_search_matches_word_forms(api_client, library):
    assert search(api_client, "walks dog") == {"Walking the dog", "The dogs walked themselves"}


def test_search_without_a_match_is_an_empty_page(api_client, library):
    assert search(api_client, "milk unicorn") == set()


MILK = {"Buy milk and bread", "Milk the cows at dawn"}


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("a & b | !c", set()),  # the words b and c ("a" is a stop word); !c would match all
        ("milk:*", MILK),  # the word milk; as a prefix it would match the milkshakes too
        ("(milk", MILK),
        ("'", set()),  # no word at all: nothing matches
        ("<->", set()),
        ("\\", set()),
    ],
)
def test_search_treats_operators_as_plain_words(api_client, library, words, found):
    """Catches words handed to PostgreSQL as a query (to_tsquery): operators then select
    other notes, or a stray parenthesis or quote is a syntax error, a 500."""
    Note.objects.create(content="Milkshakes for everyone")

    assert search(api_client, words) == found


def test_search_with_a_nul_character_is_a_400(api_client):
    response = api_client.get("/api/notes/", {"search": "milk\x00"})

    assert response.status_code == 400
    assert "search" in response.json()["error"]["details"]


def explain(client, url, *disabled):
    """The plan PostgreSQL picks for the last query a list request runs, with scans made costly."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries if re.search(r'FROM "?notes\b', q["sql"])][-1]
    with connection.cursor() as cursor:
        for scan in ("seqscan", *disabled):
            cursor.execute(f"SET LOCAL enable_{scan} = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_can_be_served_by_the_gin_index(api_client, library):
    # A search whose walk along the ordering index falls short (five notes here)
    # ends with every match past the cursor; without an ordering index to walk,
    # those must still be found by the GIN index: the query and the stored
    # vector use the same text-search configuration.
    plan = explain(api_client, "/api/notes/?search=milk+bread", "indexscan")

    assert "Bitmap Index Scan on notes_search_vector_idx" in plan


@pytest.mark.parametrize(
    ("ordering", "index"),
    [
        ("-created_at", "notes_created_at_id_idx"),
        ("updated_at", "notes_updated_at_id_idx"),
        ("-times_sent", "notes_times_sent_id_idx"),
        ("id", "notes_pkey"),
    ],
)
def test_every_page_is_an_index_range_scan(api_client, make_notes, ordering, index):
    make_notes(5)
    first = api_client.get(f"/api/notes/?ordering={ordering}&page_size=2").json()

    plan = explain(api_client, first["links"]["next"])

    assert f"Index Scan Backward using {index}" in plan or f"Index Scan using {index}" in plan
    assert "Index Cond" in plan
    assert "Sort" not in plan
