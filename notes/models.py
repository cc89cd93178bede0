"""The Note model, on the `notes` table of the original design."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import DatabaseError, connections, models, router
from django.db.models import Func

# The text-search configuration of the GIN index; queries must use the same one.
SEARCH_CONFIG = "english"

# Columns a client may sort by; each has a (column, id) index so every page is
# an index range scan. The last one also serves send-next's pick.
ORDERING_FIELDS = ("id", "created_at", "updated_at", "times_sent")


class CurrentTimestamp(Func):
    """SQL's CURRENT_TIMESTAMP, the default of the original table (Now() is STATEMENT_TIMESTAMP)."""

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()


# updated_at takes the statement's time, not the transaction's (CURRENT_TIMESTAMP),
# so it moves on every change even inside one long transaction.
SEND_SQL = """
UPDATE notes SET times_sent = times_sent + 1, updated_at = STATEMENT_TIMESTAMP()
WHERE id = %s
RETURNING *
"""

# Picks the least-sent note, oldest first, and counts the send in one statement.
# SKIP LOCKED lets concurrent callers take different notes instead of queueing
# on the same row. The times_sent = min(...) condition matters: when a row was
# sent by another transaction after this statement's snapshot, PostgreSQL
# re-checks the condition against the new row version, so a note that is no
# longer least-sent is passed over rather than handed out out of order. An
# empty result then means "all least-sent notes were taken meanwhile": retry.
SEND_NEXT_SQL = """
WITH picked AS (
    SELECT id FROM notes
    WHERE times_sent = (SELECT min(times_sent) FROM notes)
    ORDER BY created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE notes SET times_sent = notes.times_sent + 1, updated_at = STATEMENT_TIMESTAMP()
FROM picked WHERE notes.id = picked.id
RETURNING notes.*
"""


# An edit writes content and moves updated_at, and reads the new updated_at
# back in the same statement.
EDIT_SQL = """
UPDATE notes SET content = %s, updated_at = STATEMENT_TIMESTAMP()
WHERE id = %s
RETURNING updated_at
"""


class NoteQuerySet(models.QuerySet):
    def send(self, pk):
        """Count one send of note `pk` atomically; None when there is no such note."""
        return next(iter(self.model.objects.raw(SEND_SQL, [pk])), None)

    def send_next(self):
        """Count one send of the least-sent note atomically; None when there are no notes."""
        while self.exists():
            note = next(iter(self.model.objects.raw(SEND_NEXT_SQL)), None)
            if note is not None:
                return note
        return None


class Note(models.Model):
    id = models.AutoField(primary_key=True)
    content = models.CharField(max_length=255)
    times_sent = models.IntegerField(db_default=0, editable=False)
    created_at = models.DateTimeField(db_default=CurrentTimestamp(), editable=False)
    updated_at = models.DateTimeField(db_default=CurrentTimestamp(), editable=False)

    objects = NoteQuerySet.as_manager()

    class Meta:
        db_table = "notes"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="notes_created_at_id_idx"),
            models.Index(fields=["updated_at", "id"], name="notes_updated_at_id_idx"),
            models.Index(fields=["times_sent", "id"], name="notes_times_sent_id_idx"),
            models.Index(fields=["times_sent", "created_at", "id"], name="notes_send_next_idx"),
            GinIndex(
                SearchVector("content", config=SEARCH_CONFIG), name="notes_content_search_idx"
            ),
        ]

    def __str__(self):
        return self.content[:50]

    def save(self, *args, **kwargs):
        if self._state.adding:
            # id and the database defaults come back through INSERT ... RETURNING.
            return super().save(*args, **kwargs)
        # Only content is written: times_sent belongs to send, whose concurrent
        # increments a full-row UPDATE from a stale instance would undo.
        # updated_at moves on every change, by the database's clock like created_at.
        if not set(kwargs.get("update_fields") or ["content"]) <= {"content", "updated_at"}:
            raise ValueError("Only content can be saved; sends go through Note.objects.send().")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with connections[using].cursor() as cursor:
            cursor.execute(EDIT_SQL, [self.content, self.pk])
            row = cursor.fetchone()
        if row is None:
            raise DatabaseError("The note to save no longer exists.")
        (self.updated_at,) = row
