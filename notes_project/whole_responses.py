"""gunicorn sends a response's header block and its body in one write, so no half response is left.

gunicorn writes the header block, then the body, in two system calls, and a
gthread worker may wait for the GIL in between. A worker killed there (SIGKILL,
the OOM killer, a lost machine) leaves its client the headers without the
body. A load balancer can retry a request whose instance answered nothing, but
not one whose answer it has begun to pass on: the client gets a truncated
response. Held back until the first body bytes, the headers go out with them,
so a killed worker has sent either nothing or the whole of a small response.
"""

from typing import Any

from gunicorn.http.wsgi import Response


class HeldHeaders:
    """A response's socket that keeps the first write (always the header block) for the next one."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._held: bytes | None = None
        self._first = True

    def sendall(self, data: bytes) -> None:
        if self._first:
            self._first, self._held = False, bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._sock.sendall(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._sock.sendall(held)

    def sendfile(self, *args: Any, **kwargs: Any) -> int:
        self.flush()
        sent: int = self._sock.sendfile(*args, **kwargs)
        return sent

    def __getattr__(self, name: str) -> Any:
        # Anything else touches the socket directly: what was held goes first.
        self.flush()
        return getattr(self._sock, name)


def install() -> None:
    """Wrap every HTTP/1 WSGI response's socket (called from gunicorn.conf.py).

    gunicorn has no setting for its response class, so this patches it: its
    workers build every response with gunicorn.http.wsgi.create(), which
    makes a Response(req, sock, cfg), whose send_headers() writes the header
    block in one sendall. test_whole_responses.py checks each of these
    assumptions against the installed gunicorn, so an upgrade that breaks one
    fails there.
    """
    if getattr(Response, "holds_headers", False):
        return
    original_init, original_close = Response.__init__, Response.close

    def __init__(self: Response, req: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, req, HeldHeaders(sock), *args, **kwargs)

    def close(self: Response) -> None:
        original_close(self)
        self.sock.flush()  # a response with no body: its headers alone

    Response.__init__, Response.close, Response.holds_headers = __init__, close, True
