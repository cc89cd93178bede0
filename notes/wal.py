"""Positions in the primary's write-ahead log (WAL), as the replica's routing compares them."""

from django.db import connections

# WAL positions as byte offsets (bigint), so Python and Redis compare plain integers.
# The insert position covers every committed write, whatever synchronous_commit says.
# At a page boundary it points past the page header (24 bytes, 40 at a segment's
# start), where the next record would begin, a place no replay ever ends at while the
# primary is quiet; the end of what was written is the page's start.
INSERTED_SQL = """
SELECT CASE WHEN pos % pg_size_bytes(current_setting('wal_segment_size')) = 40 THEN pos - 40
            WHEN pos % current_setting('wal_block_size')::bigint = 24 THEN pos - 24
            ELSE pos END
FROM (SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS pos) AS inserted
"""
# The primary's flushed position, and the position after the latest write whose user's
# pin could not be recorded (notes.pins.UnpinnedWrite; 0 when none was ever missed).
PRIMARY_SQL = """
SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint,
       coalesce((SELECT position FROM notes_unpinned_write WHERE id = 1), 0)
"""
# The replica's replayed position, the age of the last transaction it replayed, and
# whether it was promoted: it replayed WAL once but is no longer in recovery (a failover
# made it the primary). A server not in recovery, promoted or never a standby (a
# development setup pointing both URLs at one database), holds everything written.
REPLAYED_SQL = """
SELECT pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                            ELSE pg_current_wal_insert_lsn() END, '0/0')::bigint,
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
            ELSE 0 END,
       pg_last_wal_replay_lsn() IS NOT NULL AND NOT pg_is_in_recovery()
"""


def position(alias: str, sql: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        (value,) = cursor.fetchone()
        return int(value)
