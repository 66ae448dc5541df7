"""The wire under RedisStorage's per-task calls: all of a call's commands in one write on a
connection of its own, the replies parsed straight off the socket.

A worker makes one or two calls per task. Through redis-py's pool, pipeline and parser
objects a call costs several times the CPU of the round trip itself, and on a small
machine that CPU is the consumer's ceiling. redis-py still opens every connection (TLS,
AUTH, SELECT, the RESP3 hello); this module only writes commands and reads replies."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError

_RECV_SIZE = 65536


def pack(commands: Sequence[Sequence[Any]]) -> bytes:
    """``commands`` in the Redis protocol; arguments are bytes, str, int or float."""
    parts = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for arg in command:
            if arg.__class__ is str:
                arg = arg.encode()
            elif arg.__class__ is not bytes:
                arg = _encode(arg)
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _encode(arg: Any) -> bytes:
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return repr(arg).encode()
    if isinstance(arg, bytes):
        return arg
    raise TypeError(f"cannot send a {type(arg).__name__} to Redis: {arg!r}")


class _Reader:
    """Replies (RESP2 or RESP3) read from one socket; error replies are returned, not raised."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.pos = 0

    def _recv(self, size: int) -> bytes:
        chunk = self.sock.recv(max(size, _RECV_SIZE))
        if not chunk:
            raise redis.ConnectionError("Redis closed the connection")
        return chunk

    def _line(self) -> bytes:
        while (end := self.data.find(b"\r\n", self.pos)) < 0:
            self.data = self.data[self.pos :] + self._recv(0)
            self.pos = 0
        line = self.data[self.pos : end]
        self.pos = end + 2
        return line

    def _exact(self, size: int) -> bytes:
        """The next ``size`` bytes and the CRLF after them (large values joined once)."""
        missing = self.pos + size + 2 - len(self.data)
        if missing > 0:
            parts = [self.data[self.pos :]]
            while missing > 0:
                parts.append(self._recv(missing))
                missing -= len(parts[-1])
            self.data, self.pos = b"".join(parts), 0
        value = self.data[self.pos : self.pos + size]
        self.pos += size + 2
        return value

    def reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            return None if rest == b"-1" else self._exact(int(rest))
        if kind == b":":
            return int(rest)
        if kind in (b"*", b"~"):
            return None if rest == b"-1" else [self.reply() for _ in range(int(rest))]
        if kind == b"+":
            return rest
        if kind == b"_":
            return None
        if kind == b"-":
            message = rest.decode(errors="replace")
            error = NoScriptError if message.startswith("NOSCRIPT") else redis.ResponseError
            return error(message)
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return float(rest)
        if kind == b"%":
            return {self.reply(): self.reply() for _ in range(int(rest))}
        raise redis.ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class _Link:
    """One connection and the reader of its current socket."""

    def __init__(self, connection: AbstractConnection, generation: int) -> None:
        self.connection = connection
        self.generation = generation
        self.reader: _Reader | None = None

    def replies(self, count: int) -> list[Any]:
        sock = self.connection._sock  # redis-py opened it: TLS, AUTH, SELECT are done
        if self.reader is None or self.reader.sock is not sock:
            self.reader = _Reader(sock)
        return [self.reader.reply() for _ in range(count)]


class Wire:
    """Sends commands on connections of its own, each used by one call at a time.

    Idle connections wait in a last-in-first-out list, so a process holds as many as it
    ever had calls at once (one per worker) and the busiest stay warm. A forked child
    starts with none of its parent's.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._idle: list[_Link] = []
        self._pid = os.getpid()
        self._generation = 0  # bumped by close(): connections then in use are closed after
        self._scripts: dict[str, bytes | str] = {}  # sha -> source, to reload a forgotten one

    def script(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> tuple:
        """The EVALSHA command running ``script`` (:meth:`call` loads it when needed)."""
        self._scripts[script.sha] = script.script
        return ("EVALSHA", script.sha, len(keys), *keys, *args)

    def call(self, *commands: tuple) -> list[Any]:
        """Send ``commands`` in one write and return their replies.

        Every reply is read before the first error reply is raised, so the connection
        stays in step; a script the server forgot is loaded and its command sent again.
        A connection that was open before the call and turns out dead is reopened once,
        as redis-py's own client does.
        """
        link = self._take()
        try:
            reused = link.connection._sock is not None
            try:
                replies = self._exchange(link, commands)
            except redis.ConnectionError:
                if not reused:
                    raise
                replies = self._exchange(link, commands)
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):
                    source = self._scripts[commands[index][1]]
                    self._exchange(link, [("SCRIPT", "LOAD", source)])
                    replies[index] = self._exchange(link, [commands[index]])[0]
                if isinstance(replies[index], redis.ResponseError):
                    raise replies[index]
            return replies
        finally:
            self._give_back(link)

    def _exchange(self, link: _Link, commands: Sequence[tuple]) -> list[Any]:
        connection = link.connection
        connection.send_packed_command([pack(commands)], check_health=False)
        try:
            return link.replies(len(commands))
        except TimeoutError:
            connection.disconnect()
            raise redis.TimeoutError("Timeout reading from Redis") from None
        except OSError as exc:
            connection.disconnect()
            raise redis.ConnectionError(f"Error reading from Redis: {exc}") from exc
        except BaseException:  # the reply stream is out of step: never reuse the socket
            connection.disconnect()
            raise

    def _take(self) -> _Link:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the sockets are the parent's
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
            generation = self._generation
        pool = self._client.connection_pool
        return _Link(pool.connection_class(**pool.connection_kwargs), generation)

    def _give_back(self, link: _Link) -> None:
        with self._lock:
            if link.generation == self._generation and self._pid == os.getpid():
                self._idle.append(link)
                return
        link.connection.disconnect()

    def close(self) -> None:
        """Close the idle connections now and the ones in use when their call ends."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
            same_process = self._pid == os.getpid()
        if same_process:
            for link in idle:
                link.connection.disconnect()
