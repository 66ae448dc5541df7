"""A TCP proxy between a Redis client and a real redis-server that drops a connection at a
chosen point of one exchange, as a network or a failing server does."""

from __future__ import annotations

import socket
import threading
import time

#: Where an armed fault cuts the connection, once the server has run the request.
BEFORE_REPLY = "before reply"  # the reply is read from the server and thrown away
MID_REPLY = "mid reply"  # the client gets the reply's first chunk without its last bytes


class FaultProxy:
    """Relays every connection to ``upstream``; :meth:`arm` breaks the next request."""

    host = "127.0.0.1"

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"redis://{self.host}:{self.port}/0"
        self._lock = threading.Lock()
        self._armed: tuple[str, bytes] | None = None
        self.fired = threading.Event()
        self._open: list[socket.socket] = []
        self.delay = 0.0  # seconds each request is held before it reaches the server
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, where: str, trigger: bytes = b"") -> None:
        """Break the connection carrying the next request that contains ``trigger``."""
        with self._lock:
            self._armed = (where, trigger)
            self.fired.clear()

    def drop_connections(self) -> None:
        """Close every connection now, as a server restart or an idle timeout does."""
        with self._lock:
            open_now, self._open = self._open, []
        for sock in open_now:
            _shut(sock)

    def close(self) -> None:
        self._listener.close()
        self.drop_connections()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, server]
            fault: list[str] = []  # set by the request pump, read by the reply pump
            threading.Thread(
                target=self._requests, args=(client, server, fault), daemon=True
            ).start()
            threading.Thread(
                target=self._replies, args=(server, client, fault), daemon=True
            ).start()

    def _requests(self, client: socket.socket, server: socket.socket, fault: list[str]) -> None:
        while chunk := _recv(client):
            with self._lock:
                if self._armed is not None and self._armed[1] in chunk:
                    fault.append(self._armed[0])
                    self._armed = None
            time.sleep(self.delay)
            if not _send(server, chunk):
                break
        _shut(server)

    def _replies(self, server: socket.socket, client: socket.socket, fault: list[str]) -> None:
        while chunk := _recv(server):
            if fault:  # the server has run the request: now the connection breaks
                if fault[0] == MID_REPLY:
                    _send(client, chunk[: max(len(chunk) - 3, 1)])
                self.fired.set()
                break
            if not _send(client, chunk):
                break
        _shut(client)
        _shut(server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
