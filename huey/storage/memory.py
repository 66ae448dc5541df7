"""MemoryStorage: the whole contract in one process's memory, for tests and development."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from huey.message import priority_of
from huey.storage.base import BaseStorage, as_key, to_score


class _PriorityQueue:
    """One FIFO lane per priority; the highest priority's oldest message leaves first."""

    def __init__(self) -> None:
        self._lanes: dict[int, deque[bytes]] = {}

    def extend(self, items: Sequence[bytes], priority: float | None = None) -> None:
        """Append ``items`` to their lanes: ``priority``'s, or each message's own."""
        for data in items:
            lane = priority_of(data) if priority is None else priority
            self._lanes.setdefault(lane, deque()).append(data)

    def put_back(self, items: list[bytes]) -> None:
        """Put ``items`` (oldest first) in front of their lanes, as if never taken."""
        for data in reversed(items):
            self._lanes.setdefault(priority_of(data), deque()).appendleft(data)

    def popleft(self) -> bytes:
        priority = max(self._lanes)
        lane = self._lanes[priority]
        data = lane.popleft()
        if not lane:
            del self._lanes[priority]
        return data

    def remove(self, data: bytes) -> int:
        """Remove every copy of ``data`` (from any lane); how many there were."""
        removed = 0
        for priority in list(self._lanes):
            lane = self._lanes[priority]
            kept = deque(item for item in lane if item != data)
            removed += len(lane) - len(kept)
            if kept:
                self._lanes[priority] = kept
            else:
                del self._lanes[priority]
        return removed

    def clear(self) -> None:
        self._lanes.clear()

    def __bool__(self) -> bool:
        return bool(self._lanes)

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __iter__(self) -> Iterator[bytes]:
        for priority in sorted(self._lanes, reverse=True):
            yield from self._lanes[priority]


class MemoryStorage(BaseStorage):
    """Plain Python containers behind one condition variable, so waits block without polling.

    Threads share an instance; a forked child gets a copy of the data and fresh locks.
    """

    blocking = True

    def __init__(self, name: str = "huey") -> None:
        super().__init__(name)
        self._queue = _PriorityQueue()
        self._inflight: dict[str, list[bytes]] = {}  # consumer -> messages, oldest first
        self._heartbeats: dict[str, float] = {}
        self._schedule: dict[bytes, float] = {}  # message -> score; re-adding moves it
        self._schedule_version = 0
        self._data: dict[str, bytes] = {}
        self._counters: dict[str, int] = {}
        self._errors: deque[bytes] = deque()  # newest on the left
        self._subscribers: weakref.WeakSet[queue.SimpleQueue[str]] = weakref.WeakSet()
        self._reset_locks()

    def _reset_locks(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._local = threading.local()

    def _batch_ops(self) -> list[Callable[[], object]] | None:
        """This thread's held batch writes, or None outside :meth:`batch`; new locks after fork."""
        if self._pid != os.getpid():
            self._reset_locks()
        return getattr(self._local, "ops", None)

    def _lock(self) -> threading.Condition:
        """The condition guarding all state; reads are refused inside :meth:`batch`."""
        if self._batch_ops() is not None:
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")
        return self._cond

    def _write(self, op: Callable[[], object]) -> None:
        """Apply a write now and wake waiters, or hold it until the open batch ends."""
        ops = self._batch_ops()
        if ops is not None:
            ops.append(op)
            return
        with self._cond:
            op()
            self._cond.notify_all()

    # -- queue ------------------------------------------------------------------
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        self._write(lambda: self._queue.extend([data], priority))

    def enqueue_many(self, items: Sequence[bytes]) -> None:
        items = list(items)
        self._write(lambda: self._queue.extend(items))

    def dequeue(self) -> bytes | None:
        with self._lock():
            return self._queue.popleft() if self._queue else None

    def unqueue(self, data: bytes) -> int:
        with self._lock():
            return self._queue.remove(data)

    def queue_size(self) -> int:
        with self._lock():
            return len(self._queue)

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        with self._lock():
            return list(itertools.islice(self._queue, _stop(limit)))

    def flush_queue(self) -> None:
        with self._lock():
            self._queue.clear()

    # -- in-flight --------------------------------------------------------------
    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        with self._lock():
            if not self._cond.wait_for(lambda: self._queue, max(timeout, 0)):
                return []
            taken = [self._queue.popleft() for _ in range(min(max(limit, 1), len(self._queue)))]
            self._inflight.setdefault(consumer_id, []).extend(taken)
            self._heartbeats.setdefault(consumer_id, time.time())
            return taken

    def ack(self, consumer_id: str, data: bytes) -> None:
        self._write(lambda: self._forget_one(consumer_id, data))

    def _forget_one(self, consumer_id: str, data: bytes) -> None:
        items = self._inflight.get(consumer_id, [])
        if data in items:
            items.remove(data)

    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        with self._lock():
            if consumer_id is not None:
                return list(self._inflight.get(consumer_id, []))
            return [item for key in sorted(self._inflight) for item in self._inflight[key]]

    def inflight_size(self) -> int:
        with self._lock():
            return sum(len(items) for items in self._inflight.values())

    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        self._write(lambda: self._heartbeats.__setitem__(consumer_id, timestamp))

    def heartbeats(self) -> dict[str, float]:
        with self._lock():
            return dict(self._heartbeats)

    def requeue(self, consumer_id: str) -> int:
        with self._lock():
            moved = self._requeue(consumer_id)
            self._cond.notify_all()
            return moved

    def _requeue(self, consumer_id: str) -> int:
        items = self._inflight.pop(consumer_id, [])
        self._queue.put_back(items)
        self._heartbeats.pop(consumer_id, None)
        return len(items)

    def requeue_expired(self, cutoff: float) -> int:
        with self._lock():
            stale = [key for key, beat in self._heartbeats.items() if beat < cutoff]
            moved = sum(self._requeue(consumer_id) for consumer_id in stale)
            self._cond.notify_all()
            return moved

    # -- schedule ---------------------------------------------------------------
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        score = to_score(timestamp)
        self._write(lambda: self._schedule_add(data, score))

    def _schedule_add(self, data: bytes, score: float) -> None:
        self._schedule[data] = score
        self._schedule_version += 1

    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        cutoff = to_score(timestamp)
        with self._lock():
            due = [item for item in self._sorted_schedule() if self._schedule[item] <= cutoff]
            for item in due:
                del self._schedule[item]
            return due

    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        cutoff = to_score(timestamp)
        cond = self._lock()
        with cond:
            due = [item for item in self._sorted_schedule() if self._schedule[item] <= cutoff]
            for item in due:
                del self._schedule[item]
            self._queue.extend(due)
            cond.notify_all()
            return len(due)

    def _sorted_schedule(self) -> list[bytes]:
        """Scheduled messages by score, ties by message bytes (the order Redis uses)."""
        return sorted(self._schedule, key=lambda item: (self._schedule[item], item))

    def next_scheduled_score(self) -> float | None:
        with self._lock():
            return min(self._schedule.values(), default=None)

    def wait_schedule_change(self, timeout: float) -> None:
        """Return once something was scheduled since this thread's previous call (at once on
        its first call), or on timeout."""
        with self._lock():
            seen = getattr(self._local, "schedule_seen", None)
            if seen is not None:
                self._cond.wait_for(lambda: self._schedule_version != seen, max(timeout, 0))
            self._local.schedule_seen = self._schedule_version

    def schedule_size(self) -> int:
        with self._lock():
            return len(self._schedule)

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        with self._lock():
            return self._sorted_schedule()[: _stop(limit)]

    def flush_schedule(self) -> None:
        with self._lock():
            self._schedule.clear()

    # -- key/value --------------------------------------------------------------
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        key = as_key(key)
        self._write(lambda: self._data.__setitem__(key, value))

    def peek_data(self, key: str) -> bytes | None:
        with self._lock():
            return self._data.get(as_key(key))

    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        values: list[bytes | None] = []

        def read_then_emit() -> None:
            values.extend(self._data.get(key) for key in keys)
            if message is not None and all(value is None for value in values):
                self.emit(message)

        self._write(read_then_emit)  # inside a batch, it runs with the batch's writes
        return values

    def pop_data(self, key: str) -> bytes | None:
        with self._lock():
            return self._data.pop(as_key(key), None)

    def has_data_for_key(self, key: str) -> bool:
        with self._lock():
            return as_key(key) in self._data

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """``ttl`` is ignored, as in huey 3's memory storage: values live with the process."""
        key = as_key(key)
        with self._lock():
            if key in self._data:
                return False
            self._data[key] = value
            self._cond.notify_all()
            return True

    def wait_for_data(self, key: str, timeout: float) -> bool:
        key = as_key(key)
        with self._lock():
            return self._cond.wait_for(lambda: key in self._data, max(timeout, 0))

    def result_store_size(self) -> int:
        with self._lock():
            return len(self._data)

    def result_items(self) -> dict[str, bytes]:
        with self._lock():
            return dict(self._data)

    def flush_results(self) -> None:
        with self._lock():
            self._data.clear()

    # -- counters ---------------------------------------------------------------
    def incr(self, key: str, amount: int = 1) -> int:
        key = as_key(key)
        with self._lock():
            value = self._counters[key] = self._counters.get(key, 0) + amount
            return value

    def delete_counter(self, key: str) -> None:
        with self._lock():
            self._counters.pop(as_key(key), None)

    def flush_counters(self) -> None:
        with self._lock():
            self._counters.clear()

    # -- errors -----------------------------------------------------------------
    def put_error(self, metadata: bytes) -> None:
        self._write(lambda: self._errors.appendleft(metadata))

    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        with self._lock():
            stop = None if limit is None else offset + max(limit, 0)
            return list(itertools.islice(self._errors, offset, stop))

    def error_count(self) -> int:
        with self._lock():
            return len(self._errors)

    def flush_errors(self) -> None:
        with self._lock():
            self._errors.clear()

    # -- events -----------------------------------------------------------------
    def emit(self, message: str) -> None:
        self._write(lambda: [inbox.put(message) for inbox in list(self._subscribers)])

    def __iter__(self) -> Iterator[str]:
        """Subscribe now (not at the first ``next``) so no event emitted after this call is lost."""
        inbox: queue.SimpleQueue[str] = queue.SimpleQueue()
        with self._lock():
            self._subscribers.add(inbox)
        return _drain_forever(inbox)

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the block's writes and apply them together at its end (none if it raises)."""
        if self._batch_ops() is not None:
            yield
            return
        ops: list[Callable[[], object]] = []
        self._local.ops = ops
        try:
            yield
        finally:
            self._local.ops = None
        with self._cond:
            for op in ops:
                op()
            self._cond.notify_all()

    def flush_all(self) -> None:
        with self._lock():
            self._queue.clear()
            self._inflight.clear()
            self._heartbeats.clear()
            self._schedule.clear()
            self._data.clear()
            self._counters.clear()
            self._errors.clear()


def _stop(limit: int | None) -> int | None:
    """An ``islice``/slice stop for an optional ``limit`` (negative counts as zero)."""
    return None if limit is None else max(limit, 0)


def _drain_forever(inbox: queue.SimpleQueue[str]) -> Iterator[str]:
    """Yield a subscriber's events; dropping the generator drops the inbox from the WeakSet."""
    while True:
        yield inbox.get()
