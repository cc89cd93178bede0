"""The one ledger of the tests and the soak: the writes clients were told succeeded, checked
against what the database holds (lost and duplicated writes)."""

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from harness.load import Acknowledged


@dataclass
class Ledger:
    """Acknowledged writes: created notes by content, and sends by note id; thread-safe."""

    creates: Counter[str] = field(default_factory=Counter)
    sends: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def created(self, content: str) -> None:
        with self.lock:
            self.creates[content] += 1

    def sent(self, note: int) -> None:
        with self.lock:
            self.sends[note] += 1

    def writes(self) -> int:
        return sum(self.creates.values()) + sum(self.sends.values())

    @classmethod
    def of(cls, acknowledged: Iterable[Acknowledged]) -> "Ledger":
        ledger = cls()
        for write in acknowledged:
            if write.kind == "create":
                ledger.created(write.note["content"])
            else:  # a send's note is its target; send-next's is the note it answered with
                ledger.sent(write.note["id"])
        return ledger


@dataclass
class Check:
    lost: list[str]  # acknowledged, not in the database
    duplicated: list[str]  # in the database more often than acknowledged
    unacknowledged: list[str]  # written, never acknowledged (a request cut off after its commit)

    @property
    def clean(self) -> bool:
        return not self.lost and not self.duplicated


def check(
    database_url: str, ledger: Ledger, created_like: str, sends_before: dict[int, int] | None = None
) -> Check:
    """Compare notes whose content is LIKE `created_like`, and every note's sends, to `ledger`."""
    with psycopg.connect(database_url) as conn:
        stored: Counter[str] = Counter(
            dict(
                conn.execute(
                    "SELECT content, count(*) FROM notes WHERE content LIKE %s GROUP BY content",
                    [created_like],
                ).fetchall()
            )
        )
    times_sent = sends_now(database_url)
    before = sends_before or {}
    sent = Counter({note: count - before.get(note, 0) for note, count in times_sent.items()})
    return Check(
        lost=[f"create {c!r}" for c in ledger.creates if stored[c] < ledger.creates[c]]
        + [f"send {n}" for n in ledger.sends if sent[n] < ledger.sends[n]],
        duplicated=[f"create {c!r}" for c in stored if stored[c] > max(1, ledger.creates[c])]
        + [f"send {n}" for n in sent if sent[n] > ledger.sends[n]],
        unacknowledged=[f"create {c!r}" for c in stored if c not in ledger.creates],
    )


def sends_now(database_url: str) -> dict[int, int]:
    """Every note's times_sent: the baseline for a later `check`."""
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT id, times_sent FROM notes"))
