"""FileStorage: the contract in a directory, shared safely by threads and processes on one host.

Layout under ``<path>/<name>/``: one file per message in ``queue/`` (named so a sorted listing
is the queue's order), ``inflight/<consumer>/``, ``consumers/`` (heartbeats), ``schedule/``,
``results/`` (huey 3's hashed tree, ``levels`` deep), ``errors/``, ``events/`` and ``seq/``
(counters). Every change holds one exclusive lock (``.lock``, flock'd; a thread lock with
``use_thread_lock``) and lands by an atomic rename, so no reader sees a partial file and a
message moves between queue, in-flight and schedule whole. Waiters sleep on FIFOs
(:mod:`huey.storage.file_wake`) that writers poke after each change.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import time
from collections.abc import Iterator, Sequence

from huey.exceptions import ConfigurationError, StorageError
from huey.message import priority_of
from huey.storage import file_names as names
from huey.storage.base import BaseStorage, to_score
from huey.storage.errors import ErrorMapping
from huey.storage.file_dir import Directory, read, sorted_names
from huey.storage.file_wake import Listener, wait_until

_FLUSHED = ("queue", "inflight", "consumers", "schedule", "results", "counters", "errors", "events")
_DIRS = (*_FLUSHED, "seq", "tmp")
_EVENTS_KEPT = 1000  # listeners further behind than this miss events


def _storage_error(path: str, error: OSError) -> StorageError:
    """The library's error for a failed file operation (full disk, read-only, permissions...)."""
    return StorageError(f"file storage {path}: {error}", str(error))


_MAPPING = ErrorMapping(OSError, _storage_error, "path")
_mapped = _MAPPING.method


class FileStorage(BaseStorage):
    """Storage in files under ``path`` (huey 3's FileStorage options): ``levels`` (0 to 4)
    directory levels for result files; ``use_thread_lock`` guards with a thread lock instead
    of the lock file, which is safe only when one process (thread workers) uses the path."""

    blocking = True

    def __init__(
        self, name: str, path: str, levels: int = 2, use_thread_lock: bool = False
    ) -> None:
        super().__init__(name)
        if os.path.exists(path) and not os.path.isdir(path):
            raise ConfigurationError(f"FileStorage path {path!r} is not a directory")
        if not 0 <= levels <= 4:
            raise ConfigurationError(f"FileStorage levels={levels}: use 0 to 4")
        self.path = path
        self.levels = levels
        self.use_thread_lock = use_thread_lock
        self.files = Directory(os.path.join(path, name), _DIRS, use_thread_lock)

    # -- queue ------------------------------------------------------------------
    @_mapped
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        """``priority`` (huey 3) orders raw bytes; a task message carries its own."""
        chosen = None if priority is None else names.check_priority(int(priority))
        self.files.write(lambda: self._append([data], chosen), "queue")

    @_mapped
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        items = list(items)
        self.files.write(lambda: self._append(items), "queue")

    def _append(self, items: Sequence[bytes], priority: int | None = None) -> None:
        first = self.files.numbers("queue", len(items))
        for number, data in enumerate(items, start=first):
            chosen = priority_of(data) if priority is None else priority
            name = names.queue_name(names.priority_key(chosen), number)
            self.files.put(self.files.path("queue", name), data)

    @_mapped
    def dequeue(self) -> bytes | None:
        with self.files.locked():
            listing = self.files.listing("queue")
            if not listing:
                return None
            path = self.files.path("queue", listing[0])
            data = read(path)
            os.unlink(path)
            return data

    @_mapped
    def unqueue(self, data: bytes) -> int:
        with self.files.locked():
            found = [
                name
                for name in self.files.listing("queue")
                if self.files.read("queue", name) == data
            ]
            for name in found:
                os.unlink(self.files.path("queue", name))
            return len(found)

    @_mapped
    def queue_size(self) -> int:
        with self.files.locked():
            return len(os.listdir(self.files.path("queue")))

    @_mapped
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        with self.files.locked():
            return [
                self.files.read("queue", name)
                for name in self.files.listing("queue")[: _stop(limit)]
            ]

    @_mapped
    def flush_queue(self) -> None:
        with self.files.locked():
            self.files.empty("queue")

    # -- in-flight --------------------------------------------------------------
    @_mapped
    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        taken: list[bytes] = []

        def take() -> bool:
            nonlocal taken
            if not os.listdir(self.files.path("queue")):  # looked at without the lock
                return False
            with self.files.locked():
                taken = self._take(consumer_id, limit)
            return bool(taken)

        self.files.refuse_in_batch()
        wait_until(self.files.listener("queue"), take, timeout)
        return taken

    def _take(self, consumer_id: str, limit: int) -> list[bytes]:
        """Move the next messages into the consumer's in-flight directory, one rename each.
        Its heartbeat is written first: a crash midway leaves nothing without an owner."""
        listing = self.files.listing("queue")[: max(limit, 1)]
        if not listing:
            return []
        beat = self.files.path("consumers", names.consumer_dir(consumer_id))
        if not os.path.exists(beat):
            self.files.put(beat, repr(time.time()).encode())
        owned = self.files.path("inflight", names.consumer_dir(consumer_id))
        os.makedirs(owned, exist_ok=True)
        first = self.files.numbers("taken", len(listing))
        taken = []
        for number, name in enumerate(listing, start=first):
            moved = os.path.join(owned, f"{names.number_key(number)}-{name[: names.KEY]}")
            os.rename(self.files.path("queue", name), moved)
            taken.append(read(moved))
        return taken

    @_mapped
    def ack(self, consumer_id: str, data: bytes) -> None:
        self.files.write(lambda: self._forget_one(consumer_id, data))

    def _forget_one(self, consumer_id: str, data: bytes) -> None:
        owned = self.files.path("inflight", names.consumer_dir(consumer_id))
        for name in sorted_names(owned):
            path = os.path.join(owned, name)
            if read(path) == data:
                os.unlink(path)
                return

    @_mapped
    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        with self.files.locked():
            owners = (
                [consumer_id]
                if consumer_id is not None
                else sorted(map(names.consumer_of, os.listdir(self.files.path("inflight"))))
            )
            items = []
            for owner in owners:
                owned = self.files.path("inflight", names.consumer_dir(owner))
                items += [read(os.path.join(owned, name)) for name in sorted_names(owned)]
            return items

    @_mapped
    def inflight_size(self) -> int:
        with self.files.locked():
            owned = os.listdir(self.files.path("inflight"))
            return sum(len(os.listdir(self.files.path("inflight", owner))) for owner in owned)

    @_mapped
    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        beat = self.files.path("consumers", names.consumer_dir(consumer_id))
        self.files.write(lambda: self.files.put(beat, repr(float(timestamp)).encode()))

    @_mapped
    def heartbeats(self) -> dict[str, float]:
        """Every consumer's last beat (files that do not hold a number are left out)."""
        with self.files.locked():
            beats = self._beats()
        return {consumer: beat for consumer, beat in beats.items() if beat is not None}

    def _beats(self) -> dict[str, float | None]:
        beats: dict[str, float | None] = {}
        for name in os.listdir(self.files.path("consumers")):
            try:
                beats[names.consumer_of(name)] = float(self.files.read("consumers", name))
            except (ValueError, FileNotFoundError):
                beats[names.consumer_of(name)] = None
        return beats

    @_mapped
    def requeue(self, consumer_id: str) -> int:
        with self.files.locked():
            moved = self._requeue(consumer_id)
        self.files.notify(["queue"] if moved else [])
        return moved

    def _requeue(self, consumer_id: str) -> int:
        """Move one consumer's messages in front of the queue, oldest first, and forget it."""
        owned = self.files.path("inflight", names.consumer_dir(consumer_id))
        listing = sorted_names(owned)
        queued = [names.number_of(name[names.KEY + 1 :]) for name in self.files.listing("queue")]
        head = min(queued, default=self.files.counter("queue"))
        for number, name in enumerate(listing, start=head - len(listing)):
            queued_name = names.queue_name(name[names.KEY + 1 :], number)
            os.rename(os.path.join(owned, name), self.files.path("queue", queued_name))
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(owned)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.files.path("consumers", names.consumer_dir(consumer_id)))
        return len(listing)

    @_mapped
    def requeue_expired(self, cutoff: float) -> int:
        """A heartbeat that is not a number, or in-flight work without one, counts as stopped."""
        with self.files.locked():
            beats = self._beats()
            owners = map(names.consumer_of, os.listdir(self.files.path("inflight")))
            stale = {owner for owner in owners if owner not in beats}
            stale |= {owner for owner, beat in beats.items() if beat is None or beat < cutoff}
            moved = sum(self._requeue(owner) for owner in sorted(stale))
        self.files.notify(["queue"] if moved else [])
        return moved

    # -- schedule ---------------------------------------------------------------
    @_mapped
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        name = f"{names.score_key(to_score(timestamp))}-{names.digest(data)}"
        self.files.write(lambda: self._schedule(name, data), "schedule")

    def _schedule(self, name: str, data: bytes) -> None:
        """Write the entry, removing the same bytes' entry at another time (a move)."""
        same = name[names.SCORE :]
        for old in os.listdir(self.files.path("schedule")):
            if old.endswith(same) and old != name:
                os.unlink(self.files.path("schedule", old))
        self.files.put(self.files.path("schedule", name), data)

    def _due(self, timestamp: datetime.datetime) -> list[tuple[str, bytes]]:
        """(file name, message) of every entry due at ``timestamp``, earliest first, ties
        in byte order."""
        cutoff = names.score_key(to_score(timestamp))
        due = itertools.takewhile(
            lambda name: name[: names.SCORE] <= cutoff, self.files.listing("schedule")
        )
        entries = [(name, self.files.read("schedule", name)) for name in due]
        return sorted(entries, key=lambda entry: (entry[0][: names.SCORE], entry[1]))

    @_mapped
    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        with self.files.locked():
            due = self._due(timestamp)
            for name, _ in due:
                os.unlink(self.files.path("schedule", name))
        return [data for _, data in due]

    @_mapped
    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        """Each due message moves by one rename, so a crash leaves it in one place."""
        with self.files.locked():
            due = self._due(timestamp)
            first = self.files.numbers("queue", len(due)) if due else 0
            for number, (name, data) in enumerate(due, start=first):
                queued = names.queue_name(names.priority_key(priority_of(data)), number)
                os.rename(self.files.path("schedule", name), self.files.path("queue", queued))
        self.files.notify(["queue"] if due else [])
        return len(due)

    @_mapped
    def next_scheduled_score(self) -> float | None:
        with self.files.locked():
            listing = self.files.listing("schedule")
        return names.score_of(listing[0]) if listing else None

    @_mapped
    def wait_schedule_change(self, timeout: float) -> None:
        """Return once something was scheduled since this thread's previous call (at once on
        its first call, which starts listening), or on timeout."""
        listening = self.files.listening("schedule")
        listener = self.files.listener("schedule")
        if listening:
            listener.wait(timeout)

    @_mapped
    def schedule_size(self) -> int:
        with self.files.locked():
            return len(os.listdir(self.files.path("schedule")))

    @_mapped
    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        with self.files.locked():
            listing = self.files.listing("schedule")
            entries = sorted(
                (name[: names.SCORE], self.files.read("schedule", name)) for name in listing
            )
        return [data for _, data in entries[: _stop(limit)]]

    @_mapped
    def flush_schedule(self) -> None:
        with self.files.locked():
            self.files.empty("schedule")

    # -- key/value --------------------------------------------------------------
    def path_for_key(self, key: str | bytes) -> str:
        """The file holding ``key``'s value: ``results/`` then ``levels`` one-letter
        directories from the key's hash (huey 3's layout)."""
        hashed = names.key_hash(key)
        return os.path.join(self.files.path("results"), *hashed[: self.levels], hashed)

    @_mapped
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        """``is_result`` (huey 3) is accepted; every value is kept alike."""
        content = names.pack_value(key, value)
        self.files.write(lambda: self._store(key, content), "data")

    def _store(self, key: str | bytes, content: bytes) -> None:
        path = self.path_for_key(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.files.put(path, content)

    def _value(self, key: str | bytes) -> bytes | None:
        try:
            entry = names.unpack_value(read(self.path_for_key(key)))
        except FileNotFoundError:
            return None
        return None if entry is None else entry[1]

    @_mapped
    def peek_data(self, key: str) -> bytes | None:
        with self.files.locked():
            return self._value(key)

    @_mapped
    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        values: list[bytes | None] = []

        def read_then_emit() -> None:
            values.extend(self._value(key) for key in keys)
            if message is not None and all(value is None for value in values):
                self._emit(message)

        self.files.write(
            read_then_emit, "events"
        )  # inside a batch, it runs with the batch's writes
        return values

    @_mapped
    def pop_data(self, key: str) -> bytes | None:
        with self.files.locked():
            value = self._value(key)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path_for_key(key))
            return value

    @_mapped
    def has_data_for_key(self, key: str) -> bool:
        with self.files.locked():
            return os.path.exists(self.path_for_key(key))

    @_mapped
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """``ttl`` (huey 3) is refused: files do not expire (NotImplementedError, as huey 3)."""
        if ttl is not None:
            raise NotImplementedError("FileStorage values do not expire: put_if_empty without ttl")
        with self.files.locked():
            if os.path.exists(self.path_for_key(key)):
                return False
            self._store(key, names.pack_value(key, value))
        self.files.notify(["data"])
        return True

    @_mapped
    def wait_for_data(self, key: str, timeout: float) -> bool:
        path = self.path_for_key(key)
        self.files.refuse_in_batch()
        return wait_until(self.files.listener("data"), lambda: os.path.exists(path), timeout)

    def _results(self) -> Iterator[tuple[str, bytes]]:
        for directory, _, files in os.walk(self.files.path("results")):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    entry = names.unpack_value(read(os.path.join(directory, name)))
                    if entry is not None:
                        yield entry

    @_mapped
    def result_store_size(self) -> int:
        with self.files.locked():
            return sum(1 for _ in self._results())

    @_mapped
    def result_items(self) -> dict[str, bytes]:
        with self.files.locked():
            return dict(self._results())

    @_mapped
    def flush_results(self) -> None:
        with self.files.locked():
            self.files.empty("results")

    # -- counters (huey 3) ------------------------------------------------------
    @_mapped
    def incr(self, key: str | bytes, amount: int = 1) -> int:
        """Add ``amount`` to the counter ``key`` (0 when new); the new value. Counters are
        apart from the key/value store."""
        path = self.files.path("counters", names.key_hash(key))
        with self.files.locked():
            try:
                value = int(read(path)) + amount
            except (FileNotFoundError, ValueError):  # new, or not a number: start again
                value = amount
            self.files.put(path, b"%d" % value)
        return value

    @_mapped
    def delete_counter(self, key: str | bytes) -> None:
        with self.files.locked(), contextlib.suppress(FileNotFoundError):
            os.unlink(self.files.path("counters", names.key_hash(key)))

    @_mapped
    def flush_counters(self) -> None:
        with self.files.locked():
            self.files.empty("counters")

    # -- errors -----------------------------------------------------------------
    @_mapped
    def put_error(self, metadata: bytes) -> None:
        def record() -> None:
            name = names.number_key(self.files.numbers("errors"))
            self.files.put(self.files.path("errors", name), metadata)

        self.files.write(record)

    @_mapped
    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        with self.files.locked():
            newest = self.files.listing("errors")[::-1]
            stop = None if limit is None else offset + max(limit, 0)
            return [self.files.read("errors", name) for name in newest[offset:stop]]

    @_mapped
    def error_count(self) -> int:
        with self.files.locked():
            return len(os.listdir(self.files.path("errors")))

    @_mapped
    def flush_errors(self) -> None:
        with self.files.locked():
            self.files.empty("errors")

    # -- events -----------------------------------------------------------------
    @_mapped
    def emit(self, message: str) -> None:
        self.files.write(lambda: self._emit(message), "events")

    def _emit(self, message: str) -> None:
        number = self.files.numbers("events")
        self.files.put(self.files.path("events", names.number_key(number)), message.encode())
        if number % 100 == 0:  # prune now and then, not on every emit
            oldest = names.number_key(number - _EVENTS_KEPT)
            for name in os.listdir(self.files.path("events")):
                if name < oldest:
                    os.unlink(self.files.path("events", name))

    @_mapped
    def __iter__(self) -> Iterator[str]:
        """Start listening now (not at the first ``next``) and yield every later event."""
        listener = self.files.new_listener("events")
        with self.files.locked():
            start = self.files.counter("events")
        return self._listen(listener, start)

    def _listen(self, listener: Listener, start: int) -> Iterator[str]:
        after = names.number_key(start)
        found: list[str] = []

        def arrived() -> bool:
            nonlocal found
            found = [name for name in self.files.listing("events") if name >= after]
            return bool(found)

        while True:
            with _MAPPING.errors(self.path):
                wait_until(listener, arrived, 60)
                for name in found:
                    with contextlib.suppress(FileNotFoundError):  # pruned meanwhile
                        yield self.files.read("events", name).decode()
            if found:
                after = names.number_key(names.number_of(found[-1]) + 1)
                found = []

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the block's writes and apply them in order under one lock at its end (none
        if it raises); a crash midway keeps the first ones (a worker acks last)."""
        with _MAPPING.errors(self.path), self.files.batch():
            yield

    @_mapped
    def flush_all(self) -> None:
        with self.files.locked():
            for sub in _FLUSHED:
                self.files.empty(sub)

    def close(self) -> None:
        """Stop this thread's listeners (their FIFOs go); the next wait makes new ones."""
        self.files.close()


def _stop(limit: int | None) -> int | None:
    return None if limit is None else max(limit, 0)
