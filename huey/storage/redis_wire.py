"""The wire under RedisStorage's per-task calls: all of a call's commands in one write on a
connection of its own, through redis-py's connection API (with the hiredis parser).

A worker makes one or two calls per task. Through redis-py's client, pool and pipeline
objects a call costs several times the CPU of the round trip itself; a connection driven
directly does not (bench/README.md has the figures).

Redis may have run a call whose reply was lost, so a call is sent again only when nothing
of it was written (the connection was found dead before the write) or when its caller
says a second run changes nothing; otherwise the redis.ConnectionError is raised and the
in-flight lists and heartbeats recover the work."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError


@dataclass
class _Link:
    """One connection, and the Wire.close() generation it was opened in."""

    connection: AbstractConnection
    generation: int


class Wire:
    """Sends commands on connections of its own, each used by one call at a time.

    Idle connections wait in a last-in-first-out list, so a process holds as many as it
    ever had calls at once (one per worker) and the busiest stay warm. A forked child
    starts with none of its parent's.
    """

    def __init__(self, client: redis.Redis, replicas: int = 0, replica_wait: float = 1.0) -> None:
        self._client = client
        # With replicas, every call ends with WAIT: its writes count as done only once that
        # many replicas hold them, so a failover cannot take back what a caller was told.
        self._wait = ("WAIT", replicas, max(1, int(replica_wait * 1000))) if replicas else None
        self._lock = threading.Lock()
        self._idle: list[_Link] = []
        self._pid = os.getpid()
        self._generation = 0  # bumped by close(): connections then in use are closed after
        self._scripts: dict[str, bytes | str] = {}  # sha -> source, to reload a forgotten one

    def script(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> tuple:
        """The EVALSHA command running ``script`` (:meth:`call` loads it when needed)."""
        self._scripts[script.sha] = script.script
        return ("EVALSHA", script.sha, len(keys), *keys, *args)

    def call(self, *commands: tuple, repeatable: bool = False) -> list[Any]:
        """Send ``commands`` in one write and return their replies.

        Every reply is read before the first error reply is raised, so the connection
        stays in step; a script the server forgot (it did not run) is loaded and its
        command sent again. A connection lost after the write raises, since Redis may have
        run the commands, unless they are ``repeatable``: then they go once more on a new
        connection.
        """
        link = self._take()
        connection = link.connection
        if self._wait:
            commands = (*commands, self._wait)
        try:
            try:
                replies = _exchange(connection, commands)
            except redis.ConnectionError:
                if not repeatable:
                    raise
                replies = _exchange(connection, commands)
            if self._wait:
                self._check_replicated(connection, replies.pop())
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):
                    source = self._scripts[commands[index][1]]
                    _exchange(connection, [("SCRIPT", "LOAD", source)])
                    replies[index] = _exchange(connection, [commands[index]])[0]
                if isinstance(replies[index], redis.ResponseError):
                    raise replies[index]
            return replies
        finally:
            self._give_back(link)

    def _check_replicated(self, connection: AbstractConnection, acknowledged: Any) -> None:
        """Raise (and drop the connection, so the next call asks again where the master
        is) when fewer replicas than asked hold the call's writes."""
        wanted, timeout = self._wait[1], self._wait[2]
        if isinstance(acknowledged, int) and acknowledged >= wanted:
            return
        connection.disconnect()
        raise redis.ConnectionError(
            f"{acknowledged} of {wanted} replicas acknowledged the writes within {timeout} ms"
        )

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


def _exchange(connection: AbstractConnection, commands: Sequence[tuple]) -> list[Any]:
    """Write ``commands`` and read every reply, error replies returned rather than raised."""
    connection.connect()  # a no-op on an open connection
    if _stale(connection):
        connection.disconnect()  # nothing was written yet: a new connection is safe
    connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except redis.ResponseError as error:  # read, so the connection stays in step
            replies.append(error)
    return replies


def _stale(connection: AbstractConnection) -> bool:
    """Whether an idle connection has something to read: the server closed it (a restart,
    an idle timeout, CLIENT KILL) or left a reply nobody read."""
    try:
        return connection.can_read()
    except redis.ConnectionError:
        return True
