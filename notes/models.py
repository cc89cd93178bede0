"""The Note model, on the `notes` table of the original design."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Func

# The text-search configuration of the stored search vector; queries use the same one.
SEARCH_CONFIG = "english"

# Columns a client may sort by; each has a (column, id) index so every page is
# an index range scan. The last one also serves send-next's pick.
ORDERING_FIELDS = ("id", "created_at", "updated_at", "times_sent")
# Newest first: the list's, the admin's and the model's order (ties broken by id).
DEFAULT_ORDERING = "-created_at"


class CurrentTimestamp(Func):
    """SQL's CURRENT_TIMESTAMP, the default of the original table (Now() is STATEMENT_TIMESTAMP)."""

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()


class NoteManager(models.Manager["Note"]):
    def get_queryset(self) -> models.QuerySet["Note"]:
        # The search vector is for the database's index and filters, never for display.
        return super().get_queryset().defer("search_vector")


class Note(models.Model):
    """A note. The API and the admin's edits write it through notes.services; the ORM serves
    the list (a search's page has statements of its own, notes.selectors.search_page) and
    the admin (its bulk reset of send counts is an ORM update)."""

    id = models.AutoField(primary_key=True)
    content = models.CharField(max_length=255)
    times_sent = models.IntegerField(db_default=0, editable=False)
    created_at = models.DateTimeField(db_default=CurrentTimestamp(), editable=False)
    updated_at = models.DateTimeField(db_default=CurrentTimestamp(), editable=False)
    # Computed and stored by PostgreSQL on every write, so a search reads it from
    # the row instead of parsing each candidate's content again; the original
    # design's SQL never names it and keeps working unchanged.
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = NoteManager()

    class Meta:
        db_table = "notes"
        ordering = [DEFAULT_ORDERING, "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="notes_created_at_id_idx"),
            models.Index(fields=["updated_at", "id"], name="notes_updated_at_id_idx"),
            models.Index(fields=["times_sent", "id"], name="notes_times_sent_id_idx"),
            models.Index(fields=["times_sent", "created_at", "id"], name="notes_send_next_idx"),
            GinIndex(fields=["search_vector"], name="notes_search_vector_idx"),
        ]

    def __str__(self) -> str:
        return self.content[:50]


# A note's columns, declared once by the fields above, in table order: every
# statement in notes.sql selects and returns them, notes.selectors maps a row
# back by them, and the API and the admin show them. A column PostgreSQL
# computes for its own use (the search vector) is never selected or shown.
NOTE_COLUMNS: tuple[str, ...] = tuple(
    field.attname for field in Note._meta.concrete_fields if not field.generated
)


class UnpinnedWrite(models.Model):
    """One row: the primary's WAL position after the latest write whose user's read-your-writes
    pin could not be recorded in Redis (notes.pins). Every instance reads it with its replica
    check (notes.replica), and no read goes to a replica that has not replayed it."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    position = models.BigIntegerField()

    class Meta:
        db_table = "notes_unpinned_write"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="notes_unpinned_write_one_row")
        ]

    def __str__(self) -> str:
        return f"unpinned write at WAL byte {self.position}"
