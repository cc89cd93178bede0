"""A Redis server of the test's own, to pause, stop and start again (the suite's is shared)."""

import os
import signal
import subprocess

import redis

from harness.server import free_port
from harness.wait import until


class RedisServer:
    """redis-server on 127.0.0.1:`port`, keeping nothing on disk: a restart starts it empty."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        if self.answers():  # one a run cut short left behind
            self.client().shutdown(nosave=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", "/tmp"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        assert until(self.answers, timeout=10), f"redis-server on {self.port} does not answer"

    def stop(self) -> None:
        """Gone, as a lost machine's Redis is: killed, so what it held is lost with it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.resume()
        self.stop()
