"""Contract, The resource: the original design's own SQL still reads and writes the migrated table.

The table may gain columns the database computes (the stored search vector);
the statements of the original FastAPI design must keep working unchanged.
"""

import pytest
from django.db import connection

from notes.models import Note

pytestmark = pytest.mark.django_db

# The original design's statements, as it sends them (named parameters become %(name)s).
INSERT = "INSERT INTO notes (content) VALUES (%(content)s) RETURNING *"
SELECT_ONE = "SELECT * FROM notes WHERE id = %(id)s"
SELECT_ALL = "SELECT * FROM notes"
UPDATE = (
    "UPDATE notes SET content = %(content)s, updated_at = CURRENT_TIMESTAMP "
    "WHERE id = %(id)s RETURNING *"
)
DELETE = "DELETE FROM notes WHERE id = %(id)s"
ORIGINAL_COLUMNS = {"id", "content", "times_sent", "created_at", "updated_at"}


def run(statement, **params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if cursor.description is None:
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_original_insert_returns_every_original_column():
    (row,) = run(INSERT, content="From the original design")

    assert row.keys() >= ORIGINAL_COLUMNS
    assert (row["content"], row["times_sent"]) == ("From the original design", 0)


def test_the_original_reads_find_the_note():
    (created,) = run(INSERT, content="Read me back")

    (one,) = run(SELECT_ONE, id=created["id"])
    everything = run(SELECT_ALL)

    assert one["content"] == "Read me back"
    assert [row["id"] for row in everything] == [created["id"]]


def test_the_original_update_keeps_search_in_step():
    (created,) = run(INSERT, content="Water the ferns")

    (updated,) = run(UPDATE, id=created["id"], content="Feed the cat")

    assert updated["content"] == "Feed the cat"
    # The stored search vector follows the original design's own writes.
    assert list(Note.objects.filter(search_vector="cat").values_list("id", flat=True)) == [
        created["id"]
    ]
    assert not Note.objects.filter(search_vector="ferns").exists()


def test_the_original_delete_removes_the_note():
    (created,) = run(INSERT, content="Short-lived")

    run(DELETE, id=created["id"])

    assert not Note.objects.filter(pk=created["id"]).exists()
