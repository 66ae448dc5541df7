"""The wire under RedisStorage's per-task calls: one connection per thread, all of a call's
commands in one write, replies parsed straight off the socket.

A worker makes two or three calls per task. Through redis-py's pool, pipeline and parser
objects each call costs several times the CPU of the round trip itself, and on a small
machine that CPU is the consumer's ceiling. redis-py still opens every connection (TLS,
AUTH, SELECT, the RESP3 hello); this module only writes commands and reads replies.
"""

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


class Wire:
    """Sends commands for any thread of this process on that thread's own connection."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._local = threading.local()
        self._generation = 0  # bumped by close(): threads then replace their connection
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
        connection = self._connection()
        reused = connection._sock is not None
        try:
            replies = self._exchange(connection, commands)
        except redis.ConnectionError:
            if not reused:
                raise
            replies = self._exchange(connection, commands)
        for index, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                self._exchange(connection, [("SCRIPT", "LOAD", self._scripts[commands[index][1]])])
                replies[index] = self._exchange(connection, [commands[index]])[0]
            if isinstance(replies[index], redis.ResponseError):
                raise replies[index]
        return replies

    def _exchange(self, connection: AbstractConnection, commands: Sequence[tuple]) -> list[Any]:
        connection.send_packed_command([pack(commands)], check_health=False)
        reader = self._local.reader
        if reader is None or reader.sock is not connection._sock:
            reader = self._local.reader = _Reader(connection._sock)
        try:
            return [reader.reply() for _ in commands]
        except TimeoutError:
            connection.disconnect()
            raise redis.TimeoutError("Timeout reading from Redis") from None
        except OSError as exc:
            connection.disconnect()
            raise redis.ConnectionError(f"Error reading from Redis: {exc}") from exc
        except BaseException:  # the reply stream is out of step: never reuse the socket
            connection.disconnect()
            raise

    def _connection(self) -> AbstractConnection:
        """This thread's connection: a new one after a fork or a close(). A thread's
        connection closes when the thread ends (redis-py closes it when collected)."""
        held = getattr(self._local, "connection", None)
        owner = (os.getpid(), self._generation)
        if held is None or held[0] != owner:
            if held is not None and held[0][0] == owner[0]:
                held[1].disconnect()
            pool = self._client.connection_pool
            held = self._local.connection = (owner, pool.connection_class(**pool.connection_kwargs))
            self._local.reader = None
        return held[1]

    def close(self) -> None:
        """Close this thread's connection; every other thread's closes at its next call."""
        self._generation += 1
        held = getattr(self._local, "connection", None)
        self._local.connection = None
        if held is not None and held[0][0] == os.getpid():
            held[1].disconnect()
