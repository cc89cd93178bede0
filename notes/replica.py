"""Reads on a streaming replica, with read-your-writes: the database router and what it consults.

Installed only when DATABASE_REPLICA_URL is set (settings.py). Within a request
(ReadYourWritesMiddleware), a read of a note goes to the replica unless:
the request writes; the replica does not answer or is more than
DATABASE_REPLICA_MAX_LAG seconds behind; or the user wrote recently and the
replica has not yet replayed the primary's WAL position recorded after that
write (GitLab's database load balancing does the same). Everything else
(users, tokens, sessions, the admin's log) and everything outside a request
(commands, the shell) reads and writes the primary.
"""

import logging
import math
import threading
import time
import weakref
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model
from django.http import HttpRequest

from notes.pins import pins
from notes.wal import PRIMARY_SQL, REPLAYED_SQL

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
# Models whose reads may be served by the replica. Anything not named here (tokens,
# users, sessions, idempotency records) reads the primary, so it is never stale.
REPLICA_MODELS = frozenset({"notes.note"})
# What authentication reads: the primary's, except while the primary does not answer (a
# failover under way), when the replica answers instead, so that users still read. The
# replica then holds every acknowledged change (replication is synchronous) once it has
# replayed it: a token revoked or rotated may be accepted for that replay lag, at most
# DATABASE_REPLICA_MAX_LAG seconds.
AUTH_MODELS = frozenset({"tokens.token", "auth.user", "sessions.session"})
# Seconds authentication keeps to the replica after the primary was seen not to answer
# (by a check, or by a read that failed); then it tries the primary again. About what a
# read on a lost primary behind PgBouncer waits before it fails (query_wait_timeout).
PRIMARY_LOST_HOLD = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def answers(alias: str) -> bool:
    """Whether the connection is open or can be opened now (a persistent one is checked first)."""
    wrapper = connections[alias]
    try:
        wrapper.close_if_health_check_failed()
        wrapper.ensure_connection()
    except DatabaseError:
        return False
    return True


@dataclass
class Seen:
    """What one connection to the replica answered last: its replayed position, and when;
    and whether it leads to a member promoted since (closed once its request ends)."""

    replayed: int
    at: float
    promoted: bool = False


@dataclass(frozen=True)
class Verdict:
    """The last check's outcome, replaced whole: a thread reads all of it or none."""

    # When it was checked (time.monotonic()), whether reads may use the replica, and
    # whether the primary did not answer while the replica did.
    at: float
    usable: bool
    primary_lost: bool = False


class ReplicaMonitor:
    """Per process: does the replica answer, and is it at most MAX_LAG seconds behind?

    Checked at most once per DATABASE_REPLICA_CHECK_INTERVAL. A replica that has
    replayed the primary's flushed WAL is current. One that has not lacks only
    transactions committed after the last one it replayed, so its view is at
    most that transaction's age old: past MAX_LAG (or with none replayed since
    it started), reads leave it. That bound holds however long the process was
    idle, and it overstates the lag only in the moment after a quiet spell
    before the first new commit is replayed. Threads of a worker share it: one
    of them checks at a time (the others keep to the last verdict meanwhile),
    and each verdict is one object, written whole.

    Each thread also has its own connection to the replica's address, which after
    a failover may lead to a member that was promoted (a connection stays with the
    server it reached) or to another member than before. So what a connection
    answered is kept for that connection alone, and each one is asked again
    after the check interval.
    """

    def __init__(self) -> None:
        self.verdict = Verdict(at=-math.inf, usable=False)
        self.checking = threading.Lock()
        # Per connection to the replica (each thread has its own); forgotten with it.
        self.seen: weakref.WeakKeyDictionary[object, Seen] = weakref.WeakKeyDictionary()

    def is_usable(self) -> bool:
        verdict = self.verdict
        now = time.monotonic()
        if now - verdict.at < settings.DATABASE_REPLICA_CHECK_INTERVAL:
            return verdict.usable
        if not self.checking.acquire(blocking=False):
            return verdict.usable  # another thread is checking
        try:
            # The last verdict holds as of now while this check runs: the other threads
            # keep to it rather than wait (the check may wait on a server that hangs).
            self.verdict = replace(verdict, at=now)
            self.verdict = self.check(now)
        finally:
            self.checking.release()
        return self.verdict.usable

    def check(self, now: float) -> Verdict:
        try:
            replayed, age = self.read_replica()
        except DatabaseError as exc:
            logger.warning("Reads go to the primary: the replica does not answer (%s)", exc)
            return Verdict(now, usable=False)
        try:
            flushed, unpinned = self.read_primary()
        except DatabaseError as exc:
            # The primary is lost (a failover under way): the replica holds every
            # acknowledged write and nothing newer exists anywhere, so it serves the reads,
            # authentication's included.
            logger.warning("Reads stay on the replica: the primary does not answer (%s)", exc)
            return Verdict(now, usable=True, primary_lost=True)
        pins.raise_floor(unpinned)
        if replayed >= flushed:
            return Verdict(now, usable=True)
        if age is None or age > settings.DATABASE_REPLICA_MAX_LAG:
            logger.warning("Reads go to the primary: the replica is behind by %s s", age)
            return Verdict(now, usable=False)
        return Verdict(now, usable=True)

    def read_primary(self) -> tuple[int, int]:
        """The primary's flushed position, and the highest write position not pinned in Redis."""
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute(PRIMARY_SQL)
            flushed, unpinned = cursor.fetchone()
        return int(flushed), int(unpinned)

    def read_replica(self) -> tuple[int, float | None]:
        """The replayed position and lag of this thread's replica connection.

        A connection that leads to a member promoted since serves on (that member
        holds everything) until its request ends, then closes
        (close_promoted_connection): the next one finds a replica.
        """
        wrapper = connections[REPLICA]
        with wrapper.cursor() as cursor:
            cursor.execute(REPLAYED_SQL)
            replayed, age, promoted = cursor.fetchone()
        if promoted:
            logger.warning("A replica connection leads to a promoted member: closed after use")
        seen = self.seen_on(wrapper.connection)
        replayed_here = max(seen.replayed, replayed)
        self.seen[wrapper.connection] = Seen(replayed_here, time.monotonic(), promoted)
        return replayed, age

    def seen_on(self, connection: object) -> Seen:
        unseen = Seen(-1, -math.inf)
        return unseen if connection is None else self.seen.get(connection, unseen)

    def still_answers(self) -> bool:
        """Whether this thread's open replica connection answers, asked of the server at most
        once per check interval per connection (which also notices a promoted member)."""
        seen = self.seen_on(connections[REPLICA].connection)
        if time.monotonic() - seen.at < settings.DATABASE_REPLICA_CHECK_INTERVAL:
            return True
        try:
            self.read_replica()
        except DatabaseError as exc:
            logger.warning("This read goes to the primary: %s", exc)
            return False
        return True

    def has_replayed(self, wanted: int) -> bool:
        """Whether the replica this thread reads from has replayed the primary's WAL up to `wanted`.

        Replay only moves forward on one server, so a position seen before on this
        connection answers without a query. Only on this connection: after a
        failover the replica's address may lead elsewhere, to a member that was
        just rewound, copied or restarted and has not replayed as far yet.
        """
        if self.seen_on(connections[REPLICA].connection).replayed >= wanted:
            return True
        try:
            return self.read_replica()[0] >= wanted
        except DatabaseError:
            self.mark_unusable()
            return False

    def noticed_primary_lost(self) -> None:
        """A read on the primary just failed for want of it: until the next check (one
        interval from now, so this request waits on no check of its own), reads and what
        authentication reads come from the replica."""
        self.verdict = Verdict(time.monotonic(), usable=True, primary_lost=True)

    def mark_unusable(self) -> None:
        self.verdict = Verdict(time.monotonic(), False, self.verdict.primary_lost)


monitor = ReplicaMonitor()


def primary_is_lost() -> bool:
    """Whether this process saw the primary not answer, while the replica did, in the last
    PRIMARY_LOST_HOLD seconds. It asks no server: a request that only writes must never wait
    on the replica (which may hang)."""
    verdict = monitor.verdict
    return verdict.primary_lost and time.monotonic() - verdict.at < PRIMARY_LOST_HOLD


def close_promoted_connection(**kwargs: object) -> None:
    """request_finished: this thread's replica connection closes if it led to a promoted
    member (NotesConfig.ready() connects it when there is a replica)."""
    wrapper = connections[REPLICA]
    if monitor.seen_on(wrapper.connection).promoted:
        wrapper.close()


@dataclass
class RequestReads:
    """The read database of one request, chosen at its first read of a note."""

    request: HttpRequest
    chosen: str | None = None

    def alias(self) -> str:
        if self.chosen is None:
            self.chosen = self.choose()
        return self.chosen

    def choose(self) -> str:
        if self.request.method not in SAFE_METHODS or not monitor.is_usable():
            return PRIMARY
        # The connection the read will use, opened first: whether it has replayed the
        # user's write is asked of that very connection.
        if not answers(REPLICA):
            monitor.mark_unusable()
            return PRIMARY
        if not monitor.still_answers():
            return PRIMARY
        # By now the view has authenticated the user (DRF sets it on the request).
        # A user's reads wait for their last write, and for any write whose pin was lost.
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            written = pins.written(user.pk)
            if written is None:
                return PRIMARY
            wanted = max(written, pins.floor)
            if wanted and not monitor.has_replayed(wanted):
                return PRIMARY
        return REPLICA


current_reads: ContextVar[RequestReads | None] = ContextVar("current_reads", default=None)


class PrimaryReplicaRouter:
    """Notes read where the current request's RequestReads says; all else uses the primary."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        reads = current_reads.get()
        if reads is None:
            return PRIMARY
        label = model._meta.label_lower
        if label in AUTH_MODELS:
            return REPLICA if primary_is_lost() else PRIMARY
        if label not in REPLICA_MODELS:
            return PRIMARY
        return reads.alias()

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return PRIMARY

    def allow_relation(self, obj1: object, obj2: object, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == PRIMARY
