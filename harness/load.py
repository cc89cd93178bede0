"""Clients that load a server from threads until told to stop, recording what each was told.

A load is a context manager: on entering, its clients start and run for a lead-in
(so whatever the test does next happens under load); on leaving, they run on for
a lead-out, then stop. `run_until` replaces the lead-out with a goal: every client
has had `count` successes from then on, which does not depend on how busy the
machine is, and fails the test when that goal is not met.
"""

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.wait import until

LEAD = 1.0  # seconds of load before and after the event under test


@dataclass
class Outcome:
    client: int
    status: int | str  # a status code, or the name of the exception raised instead
    note: dict[str, Any] | None = None  # the note a successful write answered with
    retry_after: str | None = None  # the answer's Retry-After header, if any
    at: float = field(default_factory=time.monotonic)  # when it was recorded


class Clients:
    """`count` threads, each calling `request` in a loop; `self.outcomes` in order."""

    def __init__(self, url: str, headers: dict[str, str], count: int = 6):
        self.url, self.headers = url, headers
        self.stopping = threading.Event()
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, args=(n,)) for n in range(count)]

    def request(self, session: requests.Session, client: int, i: int) -> None:
        raise NotImplementedError

    def record(
        self,
        client: int,
        status: int | str,
        note: dict[str, Any] | None = None,
        retry_after: str | None = None,
    ) -> None:
        with self.lock:
            self.outcomes.append(Outcome(client, status, note, retry_after))

    def _loop(self, client: int) -> None:
        with requests.Session() as session:
            session.headers.update(self.headers)
            i = 0
            while not self.stopping.is_set():
                self.request(session, client, i)
                i += 1

    def __enter__(self) -> "Clients":
        for thread in self.threads:
            thread.start()
        time.sleep(LEAD)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.stopping.is_set():
            time.sleep(LEAD)
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def wait_for(self, count: int, ok: set[int], timeout: float = 60) -> bool:
        """Wait until every client has had `count` answers in `ok` from here on."""
        start = len(self.outcomes)

        def met() -> bool:
            later = Counter(o.client for o in self.outcomes[start:] if o.status in ok)
            return all(later[n] >= count for n in range(len(self.threads)))

        return until(met, timeout)

    def run_until(self, count: int, ok: set[int], timeout: float = 60) -> None:
        """`wait_for`, then stop; an AssertionError if the goal was not met in `timeout` s."""
        met = self.wait_for(count, ok, timeout)
        self.stop()
        if not met:
            seen = sorted(Counter((o.client, o.status) for o in self.outcomes).items(), key=str)
            raise AssertionError(
                f"not every client had {count} answers in {sorted(ok)} within {timeout} s;"
                f" (client, status) counts over the whole run: {dict(seen)}"
            )

    def failures(self, ok: set[int]) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in ok]


class Reads(Clients):
    """GETs of `paths` in turn, on a keep-alive session per client."""

    def __init__(self, url: str, headers: dict[str, str], paths: list[str], count: int = 6):
        super().__init__(url, headers, count)
        self.paths = paths

    def request(self, session: requests.Session, client: int, i: int) -> None:
        try:
            response = session.get(self.url + self.paths[i % len(self.paths)], timeout=10)
        except requests.RequestException as exc:
            self.record(client, type(exc).__name__)
        else:
            self.record(client, response.status_code, None, response.headers.get("Retry-After"))


class Creates(Clients):
    """POSTs of new notes with no key, each on a new connection; no retries."""

    def request(self, session: requests.Session, client: int, i: int) -> None:
        content = f"load {client}-{i}"
        try:
            r = requests.post(
                f"{self.url}/api/notes/",
                json={"content": content},
                headers=self.headers,
                timeout=10,
            )
        except requests.RequestException as exc:
            self.record(client, type(exc).__name__, {"content": content})
        else:
            self.record(client, r.status_code, r.json().get("data") if r.content else None)

    def acknowledged(self) -> set[str]:
        return {o.note["content"] for o in self.outcomes if o.status == 201 and o.note}


# A keyed write: the path and body it sends, given its key and a target note.
KEYED: dict[str, Callable[[str, int], tuple[str, dict[str, str] | None]]] = {
    "create": lambda key, note: ("/api/notes/", {"content": f"keyed {key}"}),
    "send": lambda key, note: (f"/api/notes/{note}/send/", None),
    "send-next": lambda key, note: ("/api/notes/send-next/", None),
}


@dataclass(frozen=True)
class Sent:
    """A keyed write's first attempt."""

    kind: str
    key: str
    target: int
    at: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class Acknowledged:
    kind: str
    key: str
    target: int
    note: dict[str, Any] = field(hash=False)
    at: float = field(default_factory=time.monotonic, compare=False)


class KeyedWrites(Clients):
    """Creates and sends, each with its own Idempotency-Key, retried until acknowledged.

    `url` may be changed while the load runs (a restarted server); a key given up
    on after `give_up` seconds of retrying is listed in `given_up`.
    """

    def __init__(self, url: str, headers: dict[str, str], targets: list[int], count: int = 6):
        super().__init__(url, headers, count)
        self.targets = targets
        self.sent: list[Sent] = []
        self.acknowledged: list[Acknowledged] = []
        self.given_up: list[str] = []
        self.give_up = 60.0

    def request(self, session: requests.Session, client: int, i: int) -> None:
        rand = random.Random(f"{client}-{i}")
        kind, target = rand.choice(list(KEYED)), rand.choice(self.targets)
        key = f"{client}-{i}-{uuid.uuid4().hex[:8]}"
        path, body = KEYED[kind](key, target)
        with self.lock:
            self.sent.append(Sent(kind, key, target))
        deadline = time.monotonic() + self.give_up
        while time.monotonic() < deadline:
            try:
                r = session.post(
                    self.url + path, json=body, headers={"Idempotency-Key": key}, timeout=10
                )
            except requests.RequestException as exc:
                self.record(client, type(exc).__name__)
            else:
                self.record(client, r.status_code, None, r.headers.get("Retry-After"))
                if r.status_code in (200, 201):
                    with self.lock:
                        self.acknowledged.append(Acknowledged(kind, key, target, r.json()["data"]))
                    return
            time.sleep(0.05)
        self.given_up.append(key)
