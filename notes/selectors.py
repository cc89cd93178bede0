"""Reads of notes and tokens: typed functions, hand-written SQL (HackSoft's selectors)."""

import functools
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connections, router

from notes import sql
from notes.models import NOTE_COLUMNS, Note

# Note ids are PostgreSQL integers; anything else names no note and needs no query.
MAX_NOTE_ID = 2**31 - 1


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


def user_for_token(*, key: str) -> tuple[AbstractBaseUser, datetime] | None:
    """The user a token key belongs to and the token's creation time, in one join."""
    statement, fields = _user_for_token_statement()
    # Authentication always reads the primary: a replica may lag behind a new token.
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(statement, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    user = get_user_model().from_db(DEFAULT_DB_ALIAS, fields, row[:-1])
    return user, row[-1]
