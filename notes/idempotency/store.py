"""The idempotency-key queries: the stored outcome of a write, kept with it for 24 hours."""

from dataclasses import dataclass

from django.db import connection

# How long an outcome is replayed. Older keys count as unused, and are deleted
# lazily (see STORE_SQL) and by `manage.py purge_idempotency_keys`.
TTL_HOURS = 24

# "Still running" is a transaction-scoped advisory lock on (user, key): held
# until the request's transaction ends, released by PostgreSQL when a killed
# worker's connection drops, and valid through PgBouncer's transaction pooling.
# The two-integer key space is apart from the one-bigint space other locks use.
LOCK_SQL = "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))"

FIND_SQL = f"""
SELECT fingerprint, status, body, content_type, location, etag FROM idempotency_keys
WHERE user_id = %s AND key = %s AND created_at > now() - interval '{TTL_HOURS} hours'
"""

# Stores an outcome. An expired row with the same key is replaced; a live one
# is not (the statement then returns no row). Each store also deletes up to two
# other expired rows, so the table stays bounded with no scheduled job.
STORE_SQL = f"""
WITH purged AS (
    DELETE FROM idempotency_keys WHERE (user_id, key) IN (
        SELECT user_id, key FROM idempotency_keys
        WHERE created_at <= now() - interval '{TTL_HOURS} hours'
          AND NOT (user_id = %(user)s AND key = %(key)s)
        ORDER BY created_at LIMIT 2
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO idempotency_keys
    (user_id, key, fingerprint, status, body, content_type, location, etag, created_at)
VALUES (%(user)s, %(key)s, %(fingerprint)s, %(status)s, %(body)s, %(content_type)s,
        %(location)s, %(etag)s, now())
ON CONFLICT (user_id, key) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body,
    content_type = EXCLUDED.content_type, location = EXCLUDED.location,
    etag = EXCLUDED.etag, created_at = EXCLUDED.created_at
WHERE idempotency_keys.created_at <= now() - interval '{TTL_HOURS} hours'
RETURNING 1
"""

PURGE_SQL = f"""
DELETE FROM idempotency_keys WHERE (user_id, key) IN (
    SELECT user_id, key FROM idempotency_keys
    WHERE created_at <= now() - interval '{TTL_HOURS} hours'
    LIMIT %s
)
"""


@dataclass(frozen=True)
class Outcome:
    """What a keyed request answered: replayed as it was."""

    fingerprint: bytes
    status: int
    body: bytes
    content_type: str | None
    location: str | None
    etag: str | None


class KeyStillLive(Exception):
    """A live outcome exists for a key that was free when the request began (never expected)."""


def try_lock(user_id: int, key: str) -> bool:
    """Take the key for the current transaction; False while another request holds it."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, [user_id, key])
        return bool(cursor.fetchone()[0])


def find(user_id: int, key: str) -> Outcome | None:
    """The live outcome stored for this user's key, if any."""
    with connection.cursor() as cursor:
        cursor.execute(FIND_SQL, [user_id, key])
        row = cursor.fetchone()
    if row is None:
        return None
    fingerprint, status, body, *headers = row
    return Outcome(bytes(fingerprint), status, bytes(body), *(value or None for value in headers))


def save(user_id: int, key: str, outcome: Outcome) -> None:
    """Store the outcome in the current transaction, the one that made the write."""
    headers = {name: getattr(outcome, name) or "" for name in ("content_type", "location", "etag")}
    params = {"user": user_id, "key": key, **outcome.__dict__, **headers}
    with connection.cursor() as cursor:
        cursor.execute(STORE_SQL, params)
        if cursor.fetchone() is None:
            raise KeyStillLive(key)


def purge(batch: int = 10_000) -> int:
    """Delete expired keys, a batch per statement; the number deleted."""
    deleted = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(PURGE_SQL, [batch])
            deleted += int(cursor.rowcount)
            if cursor.rowcount < batch:
                return deleted
