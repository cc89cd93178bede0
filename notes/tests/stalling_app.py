"""A WSGI app for test_whole_responses, served by gunicorn with the project's own
gunicorn.conf.py: at /stall it stalls after gunicorn holds its header block and before
any body byte, where a worker waiting for the GIL between two writes would be."""

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    # No Content-Length: chunked, so the empty first chunk below sends no body byte.
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] != "/stall":
        return iter([b"ok"])
    return stall()


def stall() -> Iterator[bytes]:
    yield b""  # gunicorn writes its header block here, or holds it back
    with open(os.environ["STALL_MARKER"], "w") as marker:
        marker.write(str(os.getpid()))
    threading.Event().wait()  # until the test kills this worker
    yield b"never sent"
