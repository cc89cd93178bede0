"""The hand-written SQL of notes and tokens: every statement the API runs on them.

Writes return the row they wrote (`RETURNING`), so no write needs a second
round trip to read back what the database decided. Timestamps take the
statement's time (`STATEMENT_TIMESTAMP()`), not the transaction's, so
`updated_at` moves on every change even inside one long transaction. Lists and
searches are built by the ORM (django-filter and the keyset pagination), whose
statements the EXPLAIN tests pin; idempotency keys have their own statements
(notes/idempotency/store.py), and so has the replica router (notes/replica.py).
"""

from notes.models import NOTE_COLUMNS

_COLUMNS = ", ".join(NOTE_COLUMNS)
_QUALIFIED = ", ".join(f"notes.{column}" for column in NOTE_COLUMNS)

GET_NOTE = f"SELECT {_COLUMNS} FROM notes WHERE id = %s"

NOTE_EXISTS = "SELECT EXISTS (SELECT 1 FROM notes WHERE id = %s)"

ANY_NOTE = "SELECT EXISTS (SELECT 1 FROM notes)"

CREATE_NOTE = f"INSERT INTO notes (content) VALUES (%s) RETURNING {_COLUMNS}"

# content NULL (a PATCH without it) keeps the content and still moves updated_at.
# The version list is If-Match's: NULL for no condition, else the updated_at
# values the client holds, so the check and the write are one atomic statement.
UPDATE_NOTE = f"""
UPDATE notes SET content = COALESCE(%(content)s, content), updated_at = STATEMENT_TIMESTAMP()
WHERE id = %(id)s AND (%(versions)s::timestamptz[] IS NULL OR updated_at = ANY(%(versions)s))
RETURNING {_COLUMNS}
"""

DELETE_NOTE = """
DELETE FROM notes
WHERE id = %(id)s AND (%(versions)s::timestamptz[] IS NULL OR updated_at = ANY(%(versions)s))
RETURNING id
"""

SEND_NOTE = f"""
UPDATE notes SET times_sent = times_sent + 1, updated_at = STATEMENT_TIMESTAMP()
WHERE id = %s
RETURNING {_COLUMNS}
"""

# Picks the least-sent note, oldest first, and counts the send in one statement.
# SKIP LOCKED lets concurrent callers take different notes instead of queueing
# on the same row. The times_sent = min(...) condition matters: when a row was
# sent by another transaction after this statement's snapshot, PostgreSQL
# re-checks the condition against the new row version, so a note that is no
# longer least-sent is passed over rather than handed out out of order. An
# empty result means "the least-sent notes were all taken meanwhile".
_SEND_NEXT = """
WITH picked AS (
    SELECT id FROM notes
    WHERE times_sent = (SELECT min(times_sent) FROM notes)
    ORDER BY created_at, id
    LIMIT 1
    FOR UPDATE {wait}
)
UPDATE notes SET times_sent = notes.times_sent + 1, updated_at = STATEMENT_TIMESTAMP()
FROM picked WHERE notes.id = picked.id
RETURNING {columns}
"""
SEND_NEXT = _SEND_NEXT.format(wait="SKIP LOCKED", columns=_QUALIFIED)
# After a miss, wait for the row's holder (bounded by lock_timeout) instead of
# spinning: when it commits, the row is re-checked and taken or passed over.
SEND_NEXT_WAITING = _SEND_NEXT.format(wait="", columns=_QUALIFIED)

# A token's user, every column, in one join: authentication's only statement.
# ({columns} and {users} name the user model's columns and table.)
USER_FOR_TOKEN = """
SELECT {columns}, authtoken_token.created
FROM authtoken_token JOIN {users} ON {users}.id = authtoken_token.user_id
WHERE authtoken_token.key = %s
"""
