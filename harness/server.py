"""The project served by gunicorn with its own gunicorn.conf.py: started and stopped here."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.wait import until

ROOT = Path(__file__).resolve().parent.parent


class ServerFailed(RuntimeError):
    """gunicorn exited, or did not serve in time; the message holds its log."""


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path | None

    def workers(self) -> set[int]:
        return children_of(self.process.pid)

    def log_text(self) -> str:
        return self.log.read_text() if self.log else "(no log kept)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> set[int]:
    """The processes whose parent is `pid` (gunicorn forks workers from more than one thread)."""
    children = set()
    for child in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{child}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            children.add(int(child))
    return children


@contextmanager
def gunicorn(
    env: Mapping[str, str],
    log: Path | None = None,
    ready: str = "/health/live",
    timeout: float = 60,
    app: str | None = None,
) -> Iterator[Server]:
    """Serve with `env` (PORT and WEB_CONCURRENCY in it); yield once every worker has forked.

    `app` ("module:callable") serves another WSGI application under the same settings.

    The first worker may answer before the last has forked: a test that kills
    or counts workers needs them all. On leaving, gunicorn stops gracefully.
    """
    out = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", *([app] if app else [])],
        cwd=ROOT,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{env['PORT']}", process, log)
    try:
        wait_until_serving(server, ready, int(env["WEB_CONCURRENCY"]), timeout)
        yield server
    finally:
        stop(server)
        if log:
            out.close()  # type: ignore[union-attr]


def wait_until_serving(server: Server, path: str, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (answers(server.url + path) and len(server.workers()) >= workers):
        if server.process.poll() is not None:
            raise ServerFailed(f"gunicorn exited early:\n{server.log_text()}")
        if time.monotonic() > deadline:
            stop(server)
            raise ServerFailed(f"gunicorn did not serve in {timeout} s:\n{server.log_text()}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


def workers_that_answered(
    log: Path, request_ids: Collection[str], timeout: float = 10
) -> dict[str, int]:
    """Each request id's worker pid, from gunicorn's access lines (LOG_FORMAT=json) in `log`.

    A worker writes its access line just after sending the response, so this
    waits until every id has one; an AssertionError names the ids that never do.
    """
    wanted, found = set(request_ids), {}

    def all_found() -> bool:
        for line in log.read_text().splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            if record.get("logger") == "gunicorn.access" and record.get("request_id") in wanted:
                found[record["request_id"]] = record["process"]
        return found.keys() == wanted

    if not until(all_found, timeout, step=0.05):
        raise AssertionError(f"no access line in {log} for {sorted(wanted - found.keys())}")
    return found
