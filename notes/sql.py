"""The hand-written SQL of notes and tokens: every statement the API runs on them.

Writes return the row they wrote (`RETURNING`), so no write needs a second
round trip to read back what the database decided. Timestamps take the
statement's time (`STATEMENT_TIMESTAMP()`), not the transaction's, so
`updated_at` moves on every change even inside one long transaction. A search's
page has two statements here, composed with psycopg.sql by notes/selectors.py;
the list's other pages are built by the ORM (notes/api/pagination.py). The
EXPLAIN tests pin both. Idempotency keys have their own statements
(notes/idempotency/store.py), and so has the replica router (notes/replica.py).
"""

from psycopg.sql import SQL

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
SELECT {columns}, notes_token.id, notes_token.created, notes_token.last_used
FROM notes_token JOIN {users} ON {users}.id = notes_token.user_id
WHERE notes_token.digest = %s
"""

# A token's last use, to the minute: written only when the one recorded is older,
# so at most once a minute per token. One statement, so its own transaction,
# committed locally: recording a read's use never waits for a synchronous
# standby as the notes' writes do (the setting lasts only this transaction).
RECORD_TOKEN_USE = """
WITH local_commit AS (SELECT set_config('synchronous_commit', 'local', true))
UPDATE notes_token SET last_used = now()
FROM local_commit
WHERE id = %s AND (last_used IS NULL OR last_used < now() - interval '1 minute')
"""

# A search's page, in two statements whose plans do not hang on how common the
# planner believes the words are: for a word missing from its statistics it can
# only guess, and a guess of "common" walks the whole ordering index for a word
# in one note. {columns} and {order} are the list's, {beyond} is the cursor's
# condition (`WHERE ("created_at", "id") < (...)`, or nothing on the first page).
#
# First the next %(walk)s notes in the list's order, by the ordering's index,
# checked for the words: a common word fills its page here, and the scan stops
# as soon as it has. The LIMIT inside fixes the plan; the words cannot move it.
SEARCH_WALK = SQL("""
SELECT {columns} FROM (
    SELECT {columns}, search_vector FROM notes {beyond}
    ORDER BY {order} LIMIT %(walk)s
) AS next_notes
WHERE search_vector @@ plainto_tsquery(%(config)s::regconfig, %(words)s)
ORDER BY {order} LIMIT %(limit)s
""")

# Then, if the walk fell short, every match past the cursor, ordered: a page
# complete on its own. MATERIALIZED hides the LIMIT from the planner, so it
# cannot bet on meeting the page early along the ordering index; it reads the
# search (GIN) index, or the cursor's range of the ordering index if that is
# smaller, and either way only what it must.
SEARCH_MATCHES = SQL("""
WITH matches AS MATERIALIZED (
    SELECT {columns} FROM notes
    WHERE search_vector @@ plainto_tsquery(%(config)s::regconfig, %(words)s) {and_beyond}
)
SELECT {columns} FROM matches ORDER BY {order} LIMIT %(limit)s
""")

# The primary's WAL archiver (pg_stat_archiver), when archiving is on: seconds since it last
# archived a segment (NULL: never since the statistics began), and its failed attempts.
WAL_ARCHIVING = """
SELECT extract(epoch FROM now() - last_archived_time)::float8, failed_count
FROM pg_stat_archiver WHERE current_setting('archive_mode') <> 'off'
"""

# Writes only a message to the WAL, so that the transaction's commit waits for the
# synchronous standby (when there is one) like a write's. First the transaction takes an
# id, as a write does: a member in recovery (just demoted) refuses that as it refuses a
# write, read_only_sql_transaction (25006, answered 503), where the message alone would
# fail with an internal error ("cannot assign TransactionIds during recovery", a 500).
WAIT_REPLICATED = (
    "SELECT pg_current_xact_id()",
    "SELECT pg_logical_emit_message(true, 'notes', 'replicated')",
)
