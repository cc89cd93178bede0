"""The project served by gunicorn with its own gunicorn.conf.py: its environment, started and
stopped here, and its workers found and measured (psutil)."""

import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from harness.wait import until

ROOT = Path(__file__).resolve().parent.parent
OUT_OF_REACH = "100000000/minute"  # a rate limit that stays on, and that no run reaches


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


def environment(**settings: str) -> dict[str, str]:
    """The environment of a server under test or measurement, `settings` over it: this
    process's, with DEBUG off as in production, a random SECRET_KEY, rate limits out of reach,
    gunicorn's default count of workers and a free port on 127.0.0.1."""
    return {
        "WEB_CONCURRENCY": str(2 * (os.cpu_count() or 1)),  # gunicorn.conf.py's default
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        **{f"NOTES_THROTTLE_{scope}": OUT_OF_REACH for scope in ("ANON", "USER", "LOGIN")},
        **settings,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> set[int]:
    """The processes whose parent is `pid` (none once it has exited)."""
    try:
        return {child.pid for child in psutil.Process(pid).children()}
    except psutil.NoSuchProcess:
        return set()


def memory_mib(pids: Iterable[int]) -> dict[int, dict[str, float]]:
    """Each live process's RSS, PSS and USS in MiB. RSS counts the pages a worker shares with
    the master under preload_app; PSS splits shared pages among their users; USS is what one
    more worker adds."""
    sizes = {}
    for pid in pids:
        try:
            memory = psutil.Process(pid).memory_full_info()
        except psutil.NoSuchProcess:
            continue
        sizes[pid] = {size: getattr(memory, size) / 2**20 for size in ("rss", "pss", "uss")}
    return sizes


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
    def serving() -> bool:
        if server.process.poll() is not None:
            raise ServerFailed(f"gunicorn exited early:\n{server.log_text()}")
        return answers(server.url + path) and len(server.workers()) >= workers

    if not until(serving, timeout):
        stop(server)
        raise ServerFailed(f"gunicorn did not serve in {timeout} s:\n{server.log_text()}")


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
