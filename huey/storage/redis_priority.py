"""PriorityRedisStorage: RedisStorage whose queue leaves highest priority first (huey 3's
PriorityRedisHuey), first in, first out within one priority.

The queue is a sorted set (``huey:{name}:pqueue``, laid out in lua/priority.lua) read by
scripts that parse each message's priority from its metadata. Fetches take in one script
that also records the in-flight copy, so delivery stays at least once; idle fetches block
on a list holding one wake-up token per queued message. In-flight lists, acks, results and
the schedule are RedisStorage's own. The plain list queue stays the faster default.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from huey.storage.redis import RedisStorage, _mapped

_ORDER_KEY_SIZE = 17  # the order key before each member's message (lua/priority.lua)


class PriorityRedisStorage(RedisStorage):
    """Redis storage with a priority queue; takes RedisStorage's options."""

    queue_type = "zset"
    queue_lua = "priority"
    priority = True

    def __init__(self, name: str = "huey", **options: Any) -> None:
        super().__init__(name, **options)
        self._queue = self._prefix + "pqueue"
        self._wake = self._queue + ":wake"
        self._enqueue_script = self._load_script("priority", "enqueue")
        self._enqueue_with_priority_script = self._load_script("priority", "enqueue_with_priority")
        self._take_script = self._load_script("priority", "priority_take")

    def _take(self, consumer_id: str, limit: int) -> tuple:
        """The command taking up to ``limit`` messages, in flight for ``consumer_id``
        (untracked when it is empty)."""
        keys = [self._queue, self._inflight(consumer_id), self._consumers]
        return self._wire.script(self._take_script, keys, [max(limit, 1), consumer_id, time.time()])

    # -- queue ------------------------------------------------------------------
    @_mapped
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        if priority is None:
            self.enqueue_many([data])
            return
        script = self._enqueue_with_priority_script
        self._write(self._wire.script(script, [self._queue], [repr(priority), data]))

    @_mapped
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        if items:
            self._write(self._wire.script(self._enqueue_script, [self._queue], list(items)))

    @_mapped
    def dequeue(self) -> bytes | None:
        taken = self._read(self._take("", 1))[0]
        return taken[0] if taken else None

    @_mapped
    def unqueue(self, data: bytes) -> int:
        client = self._redis()
        members = client.zrange(self._queue, 0, -1)
        doomed = [member for member in members if member[_ORDER_KEY_SIZE:] == data]
        return client.zrem(self._queue, *doomed) if doomed else 0

    @_mapped
    def queue_size(self) -> int:
        return self._redis().zcard(self._queue)

    @_mapped
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        members = self._redis().zrange(self._queue, 0, -1 if limit is None else limit - 1)
        return [member[_ORDER_KEY_SIZE:] for member in members]

    @_mapped
    def flush_queue(self) -> None:
        self._redis().delete(self._queue, self._wake)

    # -- in-flight --------------------------------------------------------------
    def _fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        """Take what is waiting; on an empty queue, block for a wake-up token and take
        again in the same round trip, until ``timeout``."""
        taken = self._read(self._take(consumer_id, limit))[0]
        deadline = time.monotonic() + timeout
        while not taken and (remaining := deadline - time.monotonic()) > 0:
            block = min(max(remaining, 0.001), self.read_timeout)
            wake = ("BRPOP", self._wake, block)
            _, taken = self._read_blocking(wake, self._take(consumer_id, limit))
        return taken
