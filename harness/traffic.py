"""The soak's traffic (make soak, test_soak.py): reads, lists, searches and keyed writes, from
any number of threads, the writes acknowledged kept in a ledger."""

import itertools
import random
import threading
import time
from collections import Counter
from typing import Any, TypeGuard

import requests

from harness.ledger import Ledger

# Relative weights of the operations in the mix.
MIX = dict(read=30, list=15, search=10, create=12, plain=4, patch=6, send=8, send_next=5, replay=10)  # noqa: C408
SEARCH_WORDS = ["simplify", "life", "water", "plan", "write", "call", "read", "walk"]
ORDERINGS = ["-created_at", "times_sent", "-updated_at", "id"]
RETRYABLE = {409, 429}  # and every 5xx: the same key is sent again
GIVE_UP_AFTER = 60  # seconds of retrying one key before it counts as unresolved
Body = dict[str, Any] | None


class Traffic:
    """Issues one operation of the mix at a time, from any number of threads (a session each).

    Every answer is counted by status (`errors` by exception where none came); the writes
    clients were told succeeded go to `ledger`, to be checked against the database.
    """

    def __init__(self, url: str, token: str, note_ids: list[int], run_id: str):
        self.url, self.note_ids, self.run_id = url, note_ids, run_id
        self.auth = {"Authorization": f"Token {token}"}
        self.ledger = Ledger()
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.replayable: list[tuple[str, str, Body, str, int, bytes]] = []  # at most 500
        self.bad_replays = self.retries = 0
        self.unresolved: list[tuple[str, str, str]] = []  # given up on: (method, path, key)
        self.lock, self.local, self.keys = threading.Lock(), threading.local(), itertools.count()

    def one(self) -> None:
        """One operation of the mix."""
        if not hasattr(self.local, "session"):
            self.local.session, self.local.random = requests.Session(), random.Random()
        rand = self.local.random
        operation = rand.choices(list(MIX), list(MIX.values()))[0]
        note, key = rand.choice(self.note_ids), f"{self.run_id}-{next(self.keys)}"
        # Notes written during the soak hold searched words, as real notes would.
        content = f"{key} {' '.join(rand.sample(SEARCH_WORDS, 2))}"
        created = {"content": f"soak {self.run_id} {content}"}
        match operation:
            case "read":
                self.request("GET", f"/api/notes/{note}/")
            case "list":
                self.request("GET", f"/api/notes/?ordering={rand.choice(ORDERINGS)}&page_size=20")
            case "search":
                self.request("GET", f"/api/notes/?search={rand.choice(SEARCH_WORDS)}")
            case "create":
                if answered(self.keyed("POST", "/api/notes/", created, key), 201):
                    self.ledger.created(created["content"])
            case "plain":  # a create with no key
                if answered(self.request("POST", "/api/notes/", created), 201):
                    self.ledger.created(created["content"])
            case "patch":  # not "soak ...": an edited note is no created one
                self.keyed("PATCH", f"/api/notes/{note}/", {"content": f"edited {content}"}, key)
            case "send":
                if answered(self.keyed("POST", f"/api/notes/{note}/send/", None, key), 200):
                    self.ledger.sent(note)
            case "send_next":
                response = self.keyed("POST", "/api/notes/send-next/", None, key)
                if answered(response, 200):
                    self.ledger.sent(response.json()["data"]["id"])
            case "replay":
                self.replay(rand, note)

    def replay(self, rand: random.Random, note: int) -> None:
        """A client retrying a write that had succeeded: the same answer, and nothing written."""
        with self.lock:
            chosen = rand.choice(self.replayable) if self.replayable else None
        if chosen is None:  # none yet: a read instead
            self.request("GET", f"/api/notes/{note}/")
            return
        method, path, body, key, status, content = chosen
        # Another client may be replaying the same key right now (a 409): retried as any.
        response = self.keyed(method, path, body, key, first=False)
        if response is not None and (
            (response.status_code, response.content) != (status, content)
            or response.headers.get("Idempotent-Replayed") != "true"
        ):
            with self.lock:
                self.bad_replays += 1

    def keyed(
        self, method: str, path: str, body: Body, key: str, first: bool = True
    ) -> requests.Response | None:
        """Send a keyed write until it is answered for good (retrying 409, 429, 5xx, cut-offs)."""
        headers, deadline = {"Idempotency-Key": key}, time.monotonic() + GIVE_UP_AFTER
        for attempt in itertools.count():
            response = self.request(method, path, body, headers)
            if settled(response):
                if first and response.status_code < 300:
                    self.remember((method, path, body, key, response.status_code, response.content))
                return response
            if time.monotonic() > deadline:
                break
            with self.lock:
                self.retries += 1
            time.sleep(min(0.05 * 2**attempt, 1))
        with self.lock:
            self.unresolved.append((method, path, key))
        return None

    def remember(self, write: tuple[str, str, Body, str, int, bytes]) -> None:
        with self.lock:
            if len(self.replayable) < 500:
                self.replayable.append(write)
            else:
                self.replayable[self.local.random.randrange(500)] = write

    def request(
        self, method: str, path: str, body: Body = None, headers: dict[str, str] | None = None
    ) -> requests.Response | None:
        """One HTTP request, counted; None when no answer came."""
        headers = {**self.auth, **(headers or {})}
        try:
            response: requests.Response = self.local.session.request(
                method, f"{self.url}{path}", json=body, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            with self.lock:
                self.errors[type(exc).__name__] += 1
            return None
        with self.lock:
            self.statuses[response.status_code] += 1
        return response


def answered(response: requests.Response | None, status: int) -> TypeGuard[requests.Response]:
    return response is not None and response.status_code == status


def settled(response: requests.Response | None) -> TypeGuard[requests.Response]:
    """An answer no retry would change: neither none, nor a 409, a 429 or a 5xx."""
    return (
        response is not None
        and response.status_code < 500
        and response.status_code not in RETRYABLE
    )
