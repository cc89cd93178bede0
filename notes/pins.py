"""Read-your-writes pins: per user, the primary's WAL position after their latest write.

Kept in Redis for a bounded time, so the user's next request finds it on any
instance (GitLab's database load balancing does the same), and read by the
replica router (notes.replica) before a read goes to the replica.

Redis may fail or forget (a restart without persistence). Then nothing may read
stale: a write whose pin cannot be recorded moves the one UnpinnedWrite row on
the primary to its position instead, and a Redis found without the marker it
keeps (STARTED_KEY) moves it to the primary's current position. Every instance
reads that row with its replica check and keeps all reads off a replica that
has not replayed it (docs/reliability.md, "When Redis is lost or pauses").
"""

import logging
import math
import threading
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from redis.exceptions import RedisError

from notes.redis_client import redis_client
from notes.wal import INSERTED_SQL, position

logger = logging.getLogger(__name__)

# Keeps the larger position, so two writes finishing out of order never move a pin
# back. Lua numbers are doubles: exact for WAL offsets below 2**53 bytes (8 PiB).
RECORD_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < tonumber(ARGV[1]) then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return redis.call('EXPIRE', KEYS[1], ARGV[2])
"""
# Set once, never expires: a Redis without it has lost (or never held) the pins. Its value
# is the (Unix) time from which they are trusted: after every instance read the primary's
# UnpinnedWrite row (two replica check intervals), which covers whatever was forgotten.
STARTED_KEY = "notes:replica:pins-kept"
# Only ever forward, like a pin.
UNPINNED_SQL = """
INSERT INTO notes_unpinned_write (id, position) VALUES (1, %s)
ON CONFLICT (id) DO UPDATE SET position = greatest(notes_unpinned_write.position, excluded.position)
"""


class WritePins:
    """The pins in Redis, and `floor`: the highest unpinned position this process knows of."""

    def __init__(self) -> None:
        self.floor = 0
        self.lock = threading.Lock()

    def key(self, user_id: object) -> str:
        return f"notes:replica:written:{user_id}"

    def record(self, user_id: object) -> None:
        try:
            written = position(DEFAULT_DB_ALIAS, INSERTED_SQL)
        except DatabaseError as exc:
            logger.warning("A write was not recorded for read-your-writes: %s", exc)
            return
        try:
            client = redis_client(settings.REDIS_URL)
            client.eval(RECORD_SCRIPT, 1, self.key(user_id), written, self.seconds())
        except RedisError as exc:
            logger.warning("A write's pin is kept on the primary, Redis fails: %s", exc)
            self.unpinned(written)

    def written(self, user_id: object) -> int | None:
        """The recorded position (0 when none); None when Redis cannot say."""
        try:
            client = redis_client(settings.REDIS_URL)
            value, trusted_from = client.mget(self.key(user_id), STARTED_KEY)
            if trusted_from is None:
                # A Redis that forgot every pin: every write before now counts as unpinned,
                # on every instance from its next replica check; until then, the primary.
                if self.unpinned(position(DEFAULT_DB_ALIAS, INSERTED_SQL)):
                    grace = 2 * settings.DATABASE_REPLICA_CHECK_INTERVAL
                    client.set(STARTED_KEY, time.time() + grace, nx=True)
                return None
            if float(trusted_from) > time.time():
                return None
        except (RedisError, DatabaseError) as exc:
            logger.warning("Reads go to the primary: the write pins are unavailable (%s)", exc)
            return None
        return int(value) if value is not None else 0

    def unpinned(self, written: int) -> bool:
        """No user's read goes to a replica until it has replayed `written`, on any instance:
        at once on this one, and on the others from their next replica check."""
        self.raise_floor(written)
        try:
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute(UNPINNED_SQL, [written])
        except DatabaseError as exc:
            logger.error("Pins lost, and the primary does not keep their position: %s", exc)
            return False
        return True

    def raise_floor(self, unpinned: int) -> None:
        """This process's floor, from its own misses and the primary's row (read by each check)."""
        with self.lock:
            self.floor = max(self.floor, unpinned)

    def seconds(self) -> int:
        # Longer than the replica may lag before every read leaves it anyway.
        lag: int = math.ceil(settings.DATABASE_REPLICA_MAX_LAG)
        pin: int = settings.DATABASE_REPLICA_PIN_SECONDS
        return max(pin, lag)


pins = WritePins()
