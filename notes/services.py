"""Writes of notes: typed functions on the hand-written SQL of notes/sql.py (HackSoft's services).

Each write is one statement, except send-next: while concurrent callers take
the least-sent notes first, it tries again, up to SEND_NEXT_ATTEMPTS statements
(and a check that any note is left after each miss).
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router

from notes import sql
from notes.models import Note
from notes.selectors import any_note, note_from_row
from notes_project.postgresql.base import commit_unreplicated

# Tries of send-next before answering "busy". Only the first skips locked rows;
# the others wait for the holder, and each miss means every note at the least
# count was sent meanwhile (the least count rose): progress, never a spin.
SEND_NEXT_ATTEMPTS = 50


class NoteBusy(Exception):
    """Every least-sent note stayed locked by other transactions; try again shortly."""


class WriteNotReplicated(Exception):
    """A commit came back without the synchronous standby (its wait was cancelled): it stands
    on the primary alone, and a failover now would lose it."""


def watch_replication() -> None:
    """From here on, note whether a commit comes back without the synchronous standby."""
    commit_unreplicated.set(False)


def ensure_replicated() -> None:
    """Raise WriteNotReplicated if a commit since `watch_replication` came back without the
    synchronous standby (PostgreSQL's WARNING, heard by notes_project/postgresql/base.py)."""
    if commit_unreplicated.get():
        raise WriteNotReplicated()


def wait_replicated() -> None:
    """Make the transaction's commit wait for the synchronous standby, though it wrote
    nothing: a message in the WAL, so the commit waits like any write's for the standby to
    have everything up to it, the earlier commits included."""
    with connections[router.db_for_write(Note)].cursor() as cursor:
        for statement in sql.WAIT_REPLICATED:
            cursor.execute(statement)


def _write(statement: str, params: Sequence[Any] | Mapping[str, Any]) -> Note | None:
    alias = router.db_for_write(Note)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else note_from_row(row, alias)


def create_note(*, content: str) -> Note:
    note = _write(sql.CREATE_NOTE, [content])
    assert note is not None  # INSERT ... RETURNING always returns its row
    return note


def update_note(
    *, note_id: int, content: str | None, versions: Sequence[datetime] | None = None
) -> Note | None:
    """Write content (None keeps it) and move updated_at; None if no such note at those versions.

    `versions` is If-Match: the write happens only while updated_at is one of them.
    """
    params = {"id": note_id, "content": content, "versions": _array(versions)}
    return _write(sql.UPDATE_NOTE, params)


def delete_note(*, note_id: int, versions: Sequence[datetime] | None = None) -> bool:
    """Delete the note (only at one of `versions`, when given); False if nothing was deleted."""
    with connections[router.db_for_write(Note)].cursor() as cursor:
        cursor.execute(sql.DELETE_NOTE, {"id": note_id, "versions": _array(versions)})
        return cursor.fetchone() is not None


def send_note(*, note_id: int) -> Note | None:
    """Count one send of the note atomically; None when there is no such note."""
    return _write(sql.SEND_NOTE, [note_id])


def send_next_note() -> Note | None:
    """Count one send of the least-sent note (oldest first); None when there are no notes.

    The first try skips locked rows; later ones wait for the holder, so a
    caller never spins while the only least-sent note is held elsewhere.
    """
    for statement in [sql.SEND_NEXT] + [sql.SEND_NEXT_WAITING] * (SEND_NEXT_ATTEMPTS - 1):
        note = _write(statement, [])
        if note is not None:
            return note
        if not any_note():
            return None
    raise NoteBusy()


def _array(versions: Sequence[datetime] | None) -> list[datetime] | None:
    return None if versions is None else list(versions)


def record_token_use(*, token_id: int) -> None:
    """Note a token's use, to the minute, on the primary where tokens are read (notes/sql.py)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql.RECORD_TOKEN_USE, [token_id])
