"""Reads of notes and tokens: typed functions, hand-written SQL (HackSoft's selectors)."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, router
from psycopg.sql import SQL, Identifier, Placeholder

from notes import replica, sql
from notes.models import NOTE_COLUMNS, SEARCH_CONFIG, Note
from notes.tokens.models import Token

# Note ids are PostgreSQL integers; anything else names no note and needs no query.
MAX_NOTE_ID = 2**31 - 1
# Notes a search's walk checks per row of its page before it turns to the search
# index: a word in 1 note of 100 or more fills its page in the walk (`seed
# --fake` puts `simplify` in 1 of 27). A rarer word costs the walk, a
# constant, plus its matches past the cursor: under 1 in 100 of the notes.
SEARCH_WALK_PER_ROW = 100


def note_from_row(row: tuple[Any, ...], alias: str) -> Note:
    return Note.from_db(alias, NOTE_COLUMNS, row)


def get_note(*, note_id: int) -> Note | None:
    if not 0 < note_id <= MAX_NOTE_ID:
        return None
    alias = router.db_for_read(Note)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql.GET_NOTE, [note_id])
        row = cursor.fetchone()
    return None if row is None else note_from_row(row, alias)


def search_page(
    *, words: str, ordering: Sequence[str], after: Sequence[Any] | None, limit: int
) -> list[Note]:
    """The first `limit` notes matching `words` in `ordering`, past the sort key `after`.

    A bounded walk along the ordering's index first; if it finds fewer than
    `limit`, every match past the cursor from the search index (notes/sql.py).
    """
    walk, matches = _search_statements(tuple(ordering), after is not None)
    params: dict[str, Any] = {"config": SEARCH_CONFIG, "words": words, "limit": limit}
    params |= {"walk": limit * SEARCH_WALK_PER_ROW}
    params |= {f"after{i}": value for i, value in enumerate(after or ())}
    alias = router.db_for_read(Note)
    with connections[alias].cursor() as cursor:
        cursor.execute(walk, params)
        rows = cursor.fetchall()
        if len(rows) < limit:
            cursor.execute(matches, params)
            rows = cursor.fetchall()
    return [note_from_row(row, alias) for row in rows]


@functools.cache
def _search_statements(ordering: tuple[str, ...], after: bool) -> tuple[str, str]:
    """The walk and the matches statements for an ordering whose columns share a direction."""
    key = [Identifier(field.lstrip("-")) for field in ordering]
    descending = ordering[0].startswith("-")
    order = SQL(", ").join(
        SQL("{} DESC").format(column) if descending else column for column in key
    )
    beyond = SQL("({key}) {op} ({values})").format(
        key=SQL(", ").join(key),
        op=SQL("<" if descending else ">"),
        values=SQL(", ").join(Placeholder(f"after{i}") for i in range(len(key))),
    )
    parts = {"columns": SQL(", ").join(map(Identifier, NOTE_COLUMNS)), "order": order}
    walk = sql.SEARCH_WALK.format(
        **parts, beyond=SQL("WHERE {}").format(beyond) if after else SQL("")
    )
    matches = sql.SEARCH_MATCHES.format(
        **parts, and_beyond=SQL("AND {}").format(beyond) if after else SQL("")
    )
    # As text: composed once per ordering, and read like any other statement by Django's cursor.
    return walk.as_string(), matches.as_string()


def note_exists(*, note_id: int) -> bool:
    """Whether the note exists now, on the primary (after a write that matched nothing)."""
    return _exists(sql.NOTE_EXISTS, [note_id])


def any_note() -> bool:
    return _exists(sql.ANY_NOTE, [])


def _exists(statement: str, params: list[Any]) -> bool:
    with connections[router.db_for_write(Note)].cursor() as cursor:
        cursor.execute(statement, params)
        return bool(cursor.fetchone()[0])


@functools.cache
def _user_for_token_statement() -> tuple[str, list[str]]:
    meta = get_user_model()._meta
    columns = ", ".join(f"{meta.db_table}.{field.column}" for field in meta.concrete_fields)
    statement = sql.USER_FOR_TOKEN.format(columns=columns, users=meta.db_table)
    return statement, [field.attname for field in meta.concrete_fields]


def token_by_digest(*, digest: str) -> Token | None:
    """The token with this key digest, its user read in the same join."""
    statement, fields = _user_for_token_statement()
    # The primary, unless it is lost and a replica answers (notes/replica.py's router).
    alias = router.db_for_read(Token)
    try:
        row = _fetch_one(alias, statement, [digest])
    except (OperationalError, InterfaceError):
        if alias != DEFAULT_DB_ALIAS or replica.REPLICA not in settings.DATABASES:
            raise
        # The primary went before this process's check noticed: the replica answers.
        replica.monitor.noticed_primary_lost()
        alias = replica.REPLICA
        row = _fetch_one(alias, statement, [digest])
    if row is None:
        return None
    user = get_user_model().from_db(alias, fields, row[:-3])
    token_id, created, last_used = row[-3:]
    return Token(id=token_id, digest=digest, user=user, created=created, last_used=last_used)


def _fetch_one(alias: str, statement: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


@dataclass(frozen=True)
class WalArchiving:
    seconds_since_archived: float | None  # None: nothing archived since statistics began
    failed_attempts: int


def wal_archiving() -> WalArchiving | None:
    """How the primary's WAL archiving goes, or None where archiving is off (`make run`)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql.WAL_ARCHIVING)
        row = cursor.fetchone()
    return None if row is None else WalArchiving(*row)
