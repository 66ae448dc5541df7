"""BaseStorage: the contract every backend fulfils (the spec's method list plus the
consumer's needs: in-flight tracking, heartbeats, atomic put-if-empty, blocking waits).

All payloads are ``bytes``; keys are ``str`` (``bytes`` keys, as huey 3 apps pass them,
are read as UTF-8: :func:`as_key`). Schedule timestamps are ``datetime`` objects (naive,
in whatever clock the Huey instance uses: UTC by default, local time with ``-o``);
backends order them with :func:`to_score`.

Beside the specification's methods, every backend offers huey 3's storage API
(``enqueue(data, priority)``, ``put_data(..., is_result)``, ``put_if_empty(..., ttl)``,
``peek_many``, ``delete_data``, ``wait_result``, counters); docs/huey3.md lists where
it differs from huey 3 (a missing key reads as None, not ``EmptyData``).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import re
import time
from collections.abc import Iterator, Sequence

from huey.exceptions import ConfigurationError

# Names become part of Redis keys (``huey:{name}:queue``, where braces are the cluster
# hash tag and colons separate fields), of glob patterns and of URLs: so no braces,
# colons, wildcards, slashes or whitespace, and a name cannot be a prefix-plus-field of
# another (``a`` vs ``a}:x``).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def to_score(timestamp: datetime.datetime) -> float:
    """A sortable float for a schedule timestamp (naive times read as-is, aware ones as UTC)."""
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return calendar.timegm(timestamp.timetuple()) + timestamp.microsecond / 1e6


def as_key(key: str | bytes) -> str:
    """A key as the backends store it: ``str``, so ``b"k"`` and ``"k"`` name one entry."""
    return key.decode() if isinstance(key, bytes) else key


def check_name(name: str) -> str:
    """Return ``name`` if it is safe as an instance name; ConfigurationError if not."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"Huey name {name!r} is not allowed: use 1 to 100 letters, digits, '_', '.' or '-' "
            "(not starting with '.' or '-'), so no two instances can share storage keys"
        )
    return name


class BaseStorage:
    """Queue, schedule, result store, error store, event stream and in-flight registry.

    Backends are safe to share between threads. Values that the spec calls ``data``
    are opaque bytes produced by :mod:`huey.serializer`.

    Queue order: messages leave highest priority first, first in, first out within one
    priority; a message's priority is what :func:`huey.message.priority_of` reads from its
    bytes (0 for bytes that are not a task message). "Oldest" and "head" below mean first
    in that order. RedisStorage's list queue is the exception: plain first in, first out
    (PriorityRedisStorage orders it, as huey 3's PriorityRedisHuey does).
    """

    #: True when :meth:`fetch`, :meth:`wait_for_data` and :meth:`wait_schedule_change`
    #: wake on a real signal rather than by polling.
    blocking: bool = True
    #: huey 3's flag: True when the queue orders messages by priority.
    priority: bool = True

    def __init__(self, name: str = "huey", **storage_kwargs: object) -> None:
        self.name = check_name(name)

    # -- queue ------------------------------------------------------------------
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        """Add one message behind the queued messages of its priority: ``priority`` when
        given (huey 3's argument), else the one the message carries. A requeue after a
        crash goes by the message's own priority."""
        raise NotImplementedError

    def enqueue_many(self, items: Sequence[bytes]) -> None:
        """:meth:`enqueue` several messages in one round trip, in order."""
        raise NotImplementedError

    def dequeue(self) -> bytes | None:
        """Pop the head message without in-flight tracking, or None when empty."""
        raise NotImplementedError

    def unqueue(self, data: bytes) -> int:
        """Remove every queued copy of ``data``; return how many were removed."""
        raise NotImplementedError

    def queue_size(self) -> int:
        raise NotImplementedError

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        """Queued messages, the head (next to run) first."""
        raise NotImplementedError

    def flush_queue(self) -> None:
        raise NotImplementedError

    # -- in-flight: at-least-once delivery ----------------------------------------
    def fetch(self, consumer_id: str, timeout: float) -> bytes | None:
        """Block up to ``timeout`` seconds for the oldest message and, atomically with
        taking it, record it as in flight for ``consumer_id``. None on timeout.
        A consumer with no heartbeat yet gets one of "now", so its work is never orphaned."""
        taken = self.fetch_many(consumer_id, 1, timeout)
        return taken[0] if taken else None

    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        """:meth:`fetch` for up to ``limit`` messages: block up to ``timeout`` seconds for
        the first, then take what else is already waiting, oldest first, all recorded in
        flight for ``consumer_id`` in the same atomic step. Empty on timeout."""
        raise NotImplementedError

    def ack(self, consumer_id: str, data: bytes) -> None:
        """Forget one in-flight copy of ``data`` owned by ``consumer_id`` (task finished)."""
        raise NotImplementedError

    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """In-flight messages of one consumer, or of all consumers."""
        raise NotImplementedError

    def inflight_size(self) -> int:
        raise NotImplementedError

    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        """Record that ``consumer_id`` was alive at ``timestamp`` (epoch seconds)."""
        raise NotImplementedError

    def heartbeats(self) -> dict[str, float]:
        """Every registered consumer id with its last heartbeat (epoch seconds)."""
        raise NotImplementedError

    def requeue(self, consumer_id: str) -> int:
        """Put every in-flight message of ``consumer_id`` back in front of the queued
        messages of its priority, oldest first, and forget the consumer; return how many
        messages moved."""
        raise NotImplementedError

    def requeue_expired(self, cutoff: float) -> int:
        """:meth:`requeue` every consumer whose last heartbeat is older than ``cutoff``;
        atomic, so two consumers running it at once never requeue a message twice."""
        raise NotImplementedError

    # -- schedule -------------------------------------------------------------------
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        """Hold ``data`` until ``timestamp``; wakes :meth:`wait_schedule_change` waiters.
        Scheduling the same bytes again moves them to the new time (Redis sorted-set rules)."""
        raise NotImplementedError

    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        """Remove and return every message due at or before ``timestamp``, earliest first
        (messages due at the same time in byte order)."""
        raise NotImplementedError

    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        """Atomically move every message due at or before ``timestamp`` from the schedule
        to the queue (as :meth:`enqueue_many`), earliest first; return how many moved.
        A crash midway leaves each message in exactly one of the two."""
        raise NotImplementedError

    def next_scheduled_score(self) -> float | None:
        """:func:`to_score` of the earliest scheduled message, or None when empty."""
        raise NotImplementedError

    def wait_schedule_change(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, returning early when something is scheduled.
        A change made since this thread's previous call counts, so none is missed between
        calls; a thread's first call returns at once, after it starts listening, so the
        caller re-checks the schedule with nothing missed before."""
        raise NotImplementedError

    def schedule_size(self) -> int:
        raise NotImplementedError

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        """Scheduled messages, earliest first."""
        raise NotImplementedError

    def flush_schedule(self) -> None:
        raise NotImplementedError

    # -- key/value: results and locks -------------------------------------------------
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        """Store ``value`` under ``key`` and wake :meth:`wait_for_data` waiters on it.
        ``is_result`` (huey 3) marks a task's result; every value is kept alike here."""
        raise NotImplementedError

    def peek_data(self, key: str) -> bytes | None:
        """The value under ``key`` without removing it, or None."""
        raise NotImplementedError

    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        """The values under ``keys`` (None where empty); when every one is None, also
        :meth:`emit` ``message`` (unless it is None) in the same step. Lets a worker check
        a task's revocations and announce its start in one round trip.

        Inside :meth:`batch` it joins the batch: the list returned is filled with the
        values when the block ends (and stays empty if the block raises)."""
        raise NotImplementedError

    def pop_data(self, key: str) -> bytes | None:
        """Remove and return the value under ``key``, or None."""
        raise NotImplementedError

    def has_data_for_key(self, key: str) -> bool:
        raise NotImplementedError

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` holds nothing; True if it was stored (atomic).
        ``ttl``: seconds until the value expires, as huey 3 has it: on Redis (with
        hash-field expiry, 7.4+, or always on the expiring storage), ignored in memory,
        NotImplementedError elsewhere."""
        raise NotImplementedError

    def wait_for_data(self, key: str, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until ``key`` holds a value; True if it does."""
        raise NotImplementedError

    def peek_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """huey 3: the values under ``keys`` (as given) that exist, in one round trip.
        A read, so not inside :meth:`batch`."""
        if not keys:
            return {}
        values = self.peek_or_emit([as_key(key) for key in keys], None)
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    def delete_data(self, key: str) -> bool:
        """huey 3: remove the value under ``key``; True if there was one."""
        return self.pop_data(key) is not None

    def wait_result(
        self, key: str, timeout: float | None = None, backoff: float = 1.15, max_delay: float = 1.0
    ) -> bool:
        """huey 3: block until ``key`` holds a value (True) or ``timeout`` seconds pass
        (False; None waits forever). ``backoff`` and ``max_delay`` are accepted; the
        wait is the backend's :meth:`wait_for_data`."""
        if timeout is not None:
            return self.wait_for_data(key, timeout)
        while not self.wait_for_data(key, 60.0):
            pass
        return True

    def result_store_size(self) -> int:
        raise NotImplementedError

    def result_items(self) -> dict[str, bytes]:
        raise NotImplementedError

    def flush_results(self) -> None:
        raise NotImplementedError

    # -- counters (huey 3) ----------------------------------------------------------------
    def incr(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` to the counter ``key`` (0 when new) atomically; the new value.
        Counters live apart from the key/value store."""
        raise NotImplementedError

    def delete_counter(self, key: str) -> None:
        raise NotImplementedError

    def flush_counters(self) -> None:
        raise NotImplementedError

    # -- errors -------------------------------------------------------------------------
    def put_error(self, metadata: bytes) -> None:
        raise NotImplementedError

    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        """Recorded errors, newest first."""
        raise NotImplementedError

    def error_count(self) -> int:
        raise NotImplementedError

    def flush_errors(self) -> None:
        raise NotImplementedError

    # -- events ---------------------------------------------------------------------------
    def emit(self, message: str) -> None:
        """Publish one event (a JSON string) to every listener iterating this storage."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        """Yield events emitted from now on, blocking between them."""
        raise NotImplementedError

    # -- housekeeping ---------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the write-only calls made inside the block into one round trip
        (a pipeline or a transaction). Reads inside a batch are not allowed.

        The calls allowed inside are enqueue, enqueue_many, ack, heartbeat, add_to_schedule,
        put_data, put_error, emit and peek_or_emit (whose values arrive when the block
        ends); any other storage call inside the block raises RuntimeError. The writes
        take effect together when the block ends, none of them if it raises; a nested
        batch joins the outer one."""
        yield

    def flush_all(self) -> None:
        """Empty everything this instance stores: queue, schedule, results, counters, errors,
        in-flight."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the storage reconnects on next use."""


def poll_until(check, timeout: float, interval: float = 0.005, max_interval: float = 0.05) -> bool:
    """Call ``check`` with a short growing sleep until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(interval, remaining))
        interval = min(interval * 2, max_interval)
