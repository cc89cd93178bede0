"""A TCP proxy the tests can cut: the database unreachable and back, or a server's answers lost."""

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; stop() drops every connection and refuses new ones.

    lose_responses(n) cuts the next n connections as the target starts to
    answer: the request was served, the client never hears how.
    """

    def __init__(self, target_host, target_port):
        self.target = (target_host, int(target_port))
        self.port = None
        self.listener = None
        self.connections = []
        self.lock = threading.Lock()
        self.responses_to_lose = 0

    def lose_responses(self, count=1):
        with self.lock:
            self.responses_to_lose = count

    def _lose_this_response(self):
        with self.lock:
            if self.responses_to_lose <= 0:
                return False
            self.responses_to_lose -= 1
            return True

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self):
        # shutdown() wakes the thread blocked in accept(); close() alone does not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
                conn.close()
            self.connections.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            with self.lock:
                self.connections += [client, upstream]
            for source, sink, answers in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, answers), daemon=True
                ).start()

    def _pipe(self, source, sink, answers):
        try:
            while data := source.recv(65536):
                if answers and self._lose_this_response():
                    # The answer is never forwarded; shutdown() also wakes the other
                    # direction's thread, blocked on the client, which close() would not.
                    for end in (source, sink):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)
                    break
                sink.sendall(data)
                answers = False  # only a connection's first answer may be lost
        except OSError:
            pass
        finally:
            for end in (source, sink):
                # shutdown() first: it wakes the other direction's thread, blocked on
                # one of them. close() alone would not, and that thread's recv() would
                # keep the socket open, unowned, with no FIN ever sent: a database
                # session left idle after the server that opened it is gone.
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
