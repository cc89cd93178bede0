"""The soak's traffic: reads, lists, searches and keyed writes, each checked in the database."""

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

import harness.ledger

# Relative weights of the operations in the mix.
MIX = {
    "read": 30,
    "list": 15,
    "search": 10,
    "create": 12,
    "create-plain": 4,
    "patch": 6,
    "send": 8,
    "send-next": 5,
    "replay": 10,
}
SEARCH_WORDS = ["simplify", "life", "water", "plan", "write", "call", "read", "walk"]
RETRYABLE = {409, 429}  # and every 5xx: the same key is sent again
GIVE_UP_AFTER = 60  # seconds of retrying one key before it counts as unresolved


@dataclass
class Ledger:
    """Everything the clients saw, for the report and the check against the database."""

    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exceptions, by name
    samples: list = field(default_factory=list)  # (finished, seconds, status or error)
    creates: dict = field(default_factory=dict)  # key -> the created note's content
    plain_creates: set = field(default_factory=set)  # contents of creates sent without a key
    sends: Counter = field(default_factory=Counter)  # note id -> acknowledged sends
    replayable: list = field(default_factory=list)  # (method, path, body, key, status, content)
    bad_replays: int = 0
    bad_replay_examples: list = field(default_factory=list)
    retries: int = 0
    unresolved: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def five_xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


class Traffic:
    """Issues one operation of the mix at a time; thread-safe, one requests.Session per thread."""

    def __init__(self, url: str, token: str, note_ids: list[int], run_id: str):
        self.url, self.note_ids, self.run_id = url, note_ids, run_id
        self.auth = {"Authorization": f"Token {token}"}
        self.ledger = Ledger()
        self.local = threading.local()
        self.counter = iter(range(10**12))
        self.choices, self.weights = list(MIX), list(MIX.values())

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.random = random.Random()
        return self.local.session

    def one(self) -> None:
        """One operation of the mix, recorded in the ledger."""
        self.session()
        name = self.local.random.choices(self.choices, self.weights)[0]
        getattr(self, "op_" + name.replace("-", "_"))(self.local.random)

    def op_read(self, rand):
        self.request("GET", f"/api/notes/{rand.choice(self.note_ids)}/")

    def op_list(self, rand):
        ordering = rand.choice(["-created_at", "times_sent", "-updated_at", "id"])
        self.request("GET", f"/api/notes/?ordering={ordering}&page_size=20")

    def op_search(self, rand):
        self.request("GET", f"/api/notes/?search={rand.choice(SEARCH_WORDS)}")

    def op_create(self, rand):
        key = self.new_key()
        body = {"content": f"soak {self.run_id} k {key} {self.words(rand)}"}
        response = self.keyed("POST", "/api/notes/", body, key)
        if response is not None and response.status_code == 201:
            with self.ledger.lock:
                self.ledger.creates[key] = body["content"]

    @staticmethod
    def words(rand) -> str:
        # Notes written during the soak hold searched words, as real notes would:
        # a search that matches nothing walks the whole table (see the README).
        return " ".join(rand.sample(SEARCH_WORDS, 2))

    def op_create_plain(self, rand):
        content = f"soak {self.run_id} p {self.new_key()} {self.words(rand)}"
        response = self.request("POST", "/api/notes/", {"content": content})
        if response is not None and response.status_code == 201:
            with self.ledger.lock:
                self.ledger.plain_creates.add(content)

    def op_patch(self, rand):
        key = self.new_key()
        body = {"content": f"soak {self.run_id} edited {key} {self.words(rand)}"}
        self.keyed("PATCH", f"/api/notes/{rand.choice(self.note_ids)}/", body, key)

    def op_send(self, rand):
        target = rand.choice(self.note_ids)
        response = self.keyed("POST", f"/api/notes/{target}/send/", None, self.new_key())
        if response is not None and response.status_code == 200:
            with self.ledger.lock:
                self.ledger.sends[target] += 1

    def op_send_next(self, rand):
        response = self.keyed("POST", "/api/notes/send-next/", None, self.new_key())
        if response is not None and response.status_code == 200:
            with self.ledger.lock:
                self.ledger.sends[response.json()["data"]["id"]] += 1

    def op_replay(self, rand):
        """A client retrying a write that had succeeded: the same answer, and nothing written."""
        with self.ledger.lock:
            chosen = rand.choice(self.ledger.replayable) if self.ledger.replayable else None
        if chosen is None:
            return self.op_read(rand)
        method, path, body, key, status, content = chosen
        # Another client may be replaying the same key right now (a 409): retried as any.
        response = self.keyed(method, path, body, key, first=False)
        if response is not None and (
            response.status_code != status
            or response.content != content
            or response.headers.get("Idempotent-Replayed") != "true"
        ):
            with self.ledger.lock:
                self.ledger.bad_replays += 1
                self.ledger.bad_replay_examples.append(
                    (
                        method,
                        path,
                        key,
                        status,
                        content[:200],
                        response.status_code,
                        response.headers.get("Idempotent-Replayed"),
                        response.content[:200],
                    )
                )
        return None

    def new_key(self) -> str:
        return f"{self.run_id}-{next(self.counter)}"

    def keyed(self, method, path, body, key, first=True):
        """Send a keyed write until it is answered for good (retrying 409, 429, 5xx, cut-offs)."""
        headers, deadline = {"Idempotency-Key": key}, time.monotonic() + GIVE_UP_AFTER
        for attempt in range(10**6):
            response = self.request(method, path, body, headers)
            answered = response is not None and response.status_code not in RETRYABLE
            if answered and response.status_code < 500:
                if first and response.status_code < 300:
                    self.remember(method, path, body, key, response)
                return response
            if time.monotonic() > deadline:
                break
            with self.ledger.lock:
                self.ledger.retries += 1
            time.sleep(min(0.05 * 2**attempt, 1))
        with self.ledger.lock:
            self.ledger.unresolved.append((method, path, key))
        return None

    def remember(self, method, path, body, key, response):
        with self.ledger.lock:
            replayable = self.ledger.replayable
            entry = (method, path, body, key, response.status_code, response.content)
            if len(replayable) < 500:
                replayable.append(entry)
            else:
                replayable[self.local.random.randrange(500)] = entry

    def request(self, method, path, body=None, headers=None):
        """One HTTP request, timed and counted; None when no answer came."""
        started = time.monotonic()
        try:
            response = self.local.session.request(
                method,
                f"{self.url}{path}",
                json=body,
                headers={**self.auth, **(headers or {})},
                timeout=30,
            )
        except requests.RequestException as exc:
            outcome, response = type(exc).__name__, None
        else:
            outcome = response.status_code
        finished = time.monotonic()
        with self.ledger.lock:
            self.ledger.samples.append((finished, finished - started, outcome))
            if response is None:
                self.ledger.errors[outcome] += 1
            else:
                self.ledger.statuses[outcome] += 1
        return response


def verify(ledger: Ledger, database_url: str, run_id: str, sends_before: dict) -> dict:
    """Lost and duplicated writes, counted against what the database holds."""
    acknowledged = harness.ledger.Ledger(
        creates=Counter([*ledger.creates.values(), *ledger.plain_creates]), sends=ledger.sends
    )
    result = harness.ledger.check(database_url, acknowledged, f"soak {run_id} %", sends_before)
    return {
        "lost": len(result.lost),
        "duplicated": len(result.duplicated),
        # Written though never acknowledged: only a write given up on may be one of these.
        "unacknowledged_writes": len(result.unacknowledged),
        "acknowledged_writes": sum(acknowledged.creates.values()) + sum(ledger.sends.values()),
    }
