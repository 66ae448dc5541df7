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
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from huey.exceptions import ConfigurationError, StorageError
from huey.message import priority_of
from huey.storage import file_names as names
from huey.storage.base import BaseStorage, to_score
from huey.storage.errors import ErrorMapping
from huey.storage.file_wake import Listener, notify, wait_until
from huey.utils import FileLock

_FLUSHED = ("queue", "inflight", "consumers", "schedule", "results", "counters", "errors", "events")
_DIRS = (*_FLUSHED, "seq", "tmp")
_EVENTS_KEPT = 1000  # listeners further behind than this miss events
Op = Callable[[], object]


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
    priority = True  # huey 3's flag: the queue leaves in priority order

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
        self.root = os.path.join(path, name)
        self._ready = False
        self._reset()

    # -- plumbing ---------------------------------------------------------------
    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()  # per thread: batch ops, listeners
        self._lock: threading.Lock | FileLock | None = None
        self._written = itertools.count()

    def _state(self) -> threading.local:
        """This thread's state; after a fork the child starts with fresh locks and listeners."""
        if self._pid != os.getpid():
            self._reset()
        return self._local

    def _guard(self) -> threading.Lock | FileLock:
        """The lock every change holds; the directories exist once it is there."""
        self._state()
        if self._lock is None:
            for sub in _DIRS:
                os.makedirs(self._dir(sub), exist_ok=True)
            self._lock = threading.Lock() if self.use_thread_lock else FileLock(self._file(".lock"))
        return self._lock

    def _dir(self, sub: str) -> str:
        return os.path.join(self.root, sub)

    def _file(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def _refuse_in_batch(self) -> None:
        if getattr(self._state(), "ops", None) is not None:
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock for a read or a read-modify-write; refused inside :meth:`batch`."""
        self._refuse_in_batch()
        with self._guard():
            yield

    def _write(self, op: Op, *channels: str) -> None:
        """Apply a write under the lock and wake ``channels``, or hold it for the open batch."""
        ops = getattr(self._state(), "ops", None)
        if ops is not None:
            ops.append((op, channels))
            return
        with self._guard():
            op()
        self._notify(channels)

    def _notify(self, channels: Sequence[str]) -> None:
        for channel in channels:
            notify(self._file("wake", channel))

    def _listener(self, channel: str) -> Listener:
        """This thread's listener on ``channel``, made on first use."""
        listeners = self._state().__dict__.setdefault("listeners", {})
        if channel not in listeners:
            self._guard()
            listeners[channel] = Listener(self._file("wake", channel), self._file("wake", ".new"))
        return listeners[channel]

    def _put_file(self, path: str, content: bytes) -> None:
        """Write ``content`` to ``path`` by renaming a finished file over it."""
        temporary = self._file(
            "tmp", f"{os.getpid()}-{threading.get_ident()}-{next(self._written)}"
        )
        with open(temporary, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)

    def _listing(self, sub: str) -> list[str]:
        return sorted(os.listdir(self._dir(sub)))

    def _numbers(self, counter: str, count: int = 1) -> int:
        """Reserve ``count`` numbers of ``counter`` (under the lock); the first of them."""
        first = self._counter(counter)
        self._put_file(self._file("seq", counter), b"%d" % (first + count))
        return first

    def _counter(self, counter: str) -> int:
        try:
            return int(_read(self._file("seq", counter)) or 0)
        except FileNotFoundError:
            return 0

    # -- queue ------------------------------------------------------------------
    @_mapped
    def enqueue(self, data: bytes, priority: int | None = None) -> None:
        """``priority`` (huey 3) orders raw bytes; a task message carries its own."""
        chosen = None if priority is None else names.check_priority(int(priority))
        self._write(lambda: self._append([data], chosen), "queue")

    @_mapped
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        items = list(items)
        self._write(lambda: self._append(items), "queue")

    def _append(self, items: Sequence[bytes], priority: int | None = None) -> None:
        first = self._numbers("queue", len(items))
        for number, data in enumerate(items, start=first):
            chosen = priority_of(data) if priority is None else priority
            name = names.queue_name(names.priority_key(chosen), number)
            self._put_file(self._file("queue", name), data)

    @_mapped
    def dequeue(self) -> bytes | None:
        with self._locked():
            listing = self._listing("queue")
            if not listing:
                return None
            path = self._file("queue", listing[0])
            data = _read(path)
            os.unlink(path)
            return data

    @_mapped
    def unqueue(self, data: bytes) -> int:
        with self._locked():
            found = [name for name in self._listing("queue") if self._read("queue", name) == data]
            for name in found:
                os.unlink(self._file("queue", name))
            return len(found)

    @_mapped
    def queue_size(self) -> int:
        with self._locked():
            return len(os.listdir(self._dir("queue")))

    @_mapped
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        with self._locked():
            return [self._read("queue", name) for name in self._listing("queue")[: _stop(limit)]]

    @_mapped
    def flush_queue(self) -> None:
        with self._locked():
            _empty(self._dir("queue"))

    def _read(self, *parts: str) -> bytes:
        return _read(self._file(*parts))

    # -- in-flight --------------------------------------------------------------
    def fetch(self, consumer_id: str, timeout: float) -> bytes | None:
        """Take the oldest message; a consumer with no heartbeat yet is registered as alive now."""
        taken = self.fetch_many(consumer_id, 1, timeout)
        return taken[0] if taken else None

    @_mapped
    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        taken: list[bytes] = []

        def take() -> bool:
            nonlocal taken
            if not os.listdir(self._dir("queue")):  # looked at without the lock
                return False
            with self._locked():
                taken = self._take(consumer_id, limit)
            return bool(taken)

        self._refuse_in_batch()
        wait_until(self._listener("queue"), take, timeout)
        return taken

    def _take(self, consumer_id: str, limit: int) -> list[bytes]:
        """Move the next messages into the consumer's in-flight directory, one rename each.
        Its heartbeat is written first: a crash midway leaves nothing without an owner."""
        listing = self._listing("queue")[: max(limit, 1)]
        if not listing:
            return []
        beat = self._file("consumers", names.consumer_dir(consumer_id))
        if not os.path.exists(beat):
            self._put_file(beat, repr(time.time()).encode())
        owned = self._file("inflight", names.consumer_dir(consumer_id))
        os.makedirs(owned, exist_ok=True)
        first = self._numbers("taken", len(listing))
        taken = []
        for number, name in enumerate(listing, start=first):
            moved = os.path.join(owned, f"{names.number_key(number)}-{name[: names.KEY]}")
            os.rename(self._file("queue", name), moved)
            taken.append(_read(moved))
        return taken

    @_mapped
    def ack(self, consumer_id: str, data: bytes) -> None:
        self._write(lambda: self._forget_one(consumer_id, data))

    def _forget_one(self, consumer_id: str, data: bytes) -> None:
        owned = self._file("inflight", names.consumer_dir(consumer_id))
        for name in _sorted(owned):
            path = os.path.join(owned, name)
            if _read(path) == data:
                os.unlink(path)
                return

    @_mapped
    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        with self._locked():
            owners = (
                [consumer_id]
                if consumer_id is not None
                else sorted(map(names.consumer_of, os.listdir(self._dir("inflight"))))
            )
            items = []
            for owner in owners:
                owned = self._file("inflight", names.consumer_dir(owner))
                items += [_read(os.path.join(owned, name)) for name in _sorted(owned)]
            return items

    @_mapped
    def inflight_size(self) -> int:
        with self._locked():
            owned = os.listdir(self._dir("inflight"))
            return sum(len(os.listdir(self._file("inflight", owner))) for owner in owned)

    @_mapped
    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        beat = self._file("consumers", names.consumer_dir(consumer_id))
        self._write(lambda: self._put_file(beat, repr(float(timestamp)).encode()))

    @_mapped
    def heartbeats(self) -> dict[str, float]:
        """Every consumer's last beat (files that do not hold a number are left out)."""
        with self._locked():
            beats = self._beats()
        return {consumer: beat for consumer, beat in beats.items() if beat is not None}

    def _beats(self) -> dict[str, float | None]:
        beats: dict[str, float | None] = {}
        for name in os.listdir(self._dir("consumers")):
            try:
                beats[names.consumer_of(name)] = float(self._read("consumers", name))
            except (ValueError, FileNotFoundError):
                beats[names.consumer_of(name)] = None
        return beats

    @_mapped
    def requeue(self, consumer_id: str) -> int:
        with self._locked():
            moved = self._requeue(consumer_id)
        self._notify(["queue"] if moved else [])
        return moved

    def _requeue(self, consumer_id: str) -> int:
        """Move one consumer's messages in front of the queue, oldest first, and forget it."""
        owned = self._file("inflight", names.consumer_dir(consumer_id))
        listing = _sorted(owned)
        queued = [names.number_of(name[names.KEY + 1 :]) for name in self._listing("queue")]
        head = min(queued, default=self._counter("queue"))
        for number, name in enumerate(listing, start=head - len(listing)):
            queued_name = names.queue_name(name[names.KEY + 1 :], number)
            os.rename(os.path.join(owned, name), self._file("queue", queued_name))
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(owned)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._file("consumers", names.consumer_dir(consumer_id)))
        return len(listing)

    @_mapped
    def requeue_expired(self, cutoff: float) -> int:
        """A heartbeat that is not a number, or in-flight work without one, counts as stopped."""
        with self._locked():
            beats = self._beats()
            owners = map(names.consumer_of, os.listdir(self._dir("inflight")))
            stale = {owner for owner in owners if owner not in beats}
            stale |= {owner for owner, beat in beats.items() if beat is None or beat < cutoff}
            moved = sum(self._requeue(owner) for owner in sorted(stale))
        self._notify(["queue"] if moved else [])
        return moved

    # -- schedule ---------------------------------------------------------------
    @_mapped
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        name = f"{names.score_key(to_score(timestamp))}-{names.digest(data)}"
        self._write(lambda: self._schedule(name, data), "schedule")

    def _schedule(self, name: str, data: bytes) -> None:
        """Write the entry, removing the same bytes' entry at another time (a move)."""
        same = name[names.SCORE :]
        for old in os.listdir(self._dir("schedule")):
            if old.endswith(same) and old != name:
                os.unlink(self._file("schedule", old))
        self._put_file(self._file("schedule", name), data)

    def _due(self, timestamp: datetime.datetime) -> list[tuple[str, bytes]]:
        """(file name, message) of every entry due at ``timestamp``, earliest first, ties
        in byte order."""
        cutoff = names.score_key(to_score(timestamp))
        due = itertools.takewhile(
            lambda name: name[: names.SCORE] <= cutoff, self._listing("schedule")
        )
        entries = [(name, self._read("schedule", name)) for name in due]
        return sorted(entries, key=lambda entry: (entry[0][: names.SCORE], entry[1]))

    @_mapped
    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        with self._locked():
            due = self._due(timestamp)
            for name, _ in due:
                os.unlink(self._file("schedule", name))
        return [data for _, data in due]

    @_mapped
    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        """Each due message moves by one rename, so a crash leaves it in one place."""
        with self._locked():
            due = self._due(timestamp)
            first = self._numbers("queue", len(due)) if due else 0
            for number, (name, data) in enumerate(due, start=first):
                queued = names.queue_name(names.priority_key(priority_of(data)), number)
                os.rename(self._file("schedule", name), self._file("queue", queued))
        self._notify(["queue"] if due else [])
        return len(due)

    @_mapped
    def next_scheduled_score(self) -> float | None:
        with self._locked():
            listing = self._listing("schedule")
        return names.score_of(listing[0]) if listing else None

    @_mapped
    def wait_schedule_change(self, timeout: float) -> None:
        """Return once something was scheduled since this thread's previous call (at once on
        its first call, which starts listening), or on timeout."""
        listening = "schedule" in self._state().__dict__.get("listeners", {})
        listener = self._listener("schedule")
        if listening:
            listener.wait(timeout)

    @_mapped
    def schedule_size(self) -> int:
        with self._locked():
            return len(os.listdir(self._dir("schedule")))

    @_mapped
    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        with self._locked():
            listing = self._listing("schedule")
            entries = sorted(
                (name[: names.SCORE], self._read("schedule", name)) for name in listing
            )
        return [data for _, data in entries[: _stop(limit)]]

    @_mapped
    def flush_schedule(self) -> None:
        with self._locked():
            _empty(self._dir("schedule"))

    # -- key/value --------------------------------------------------------------
    def path_for_key(self, key: str | bytes) -> str:
        """The file holding ``key``'s value: ``results/`` then ``levels`` one-letter
        directories from the key's hash (huey 3's layout)."""
        hashed = names.key_hash(key)
        return os.path.join(self._dir("results"), *hashed[: self.levels], hashed)

    @_mapped
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        """``is_result`` (huey 3) is accepted; every value is kept alike."""
        content = names.pack_value(key, value)
        self._write(lambda: self._store(key, content), "data")

    def _store(self, key: str | bytes, content: bytes) -> None:
        path = self.path_for_key(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._put_file(path, content)

    def _value(self, key: str | bytes) -> bytes | None:
        try:
            entry = names.unpack_value(_read(self.path_for_key(key)))
        except FileNotFoundError:
            return None
        return None if entry is None else entry[1]

    @_mapped
    def peek_data(self, key: str) -> bytes | None:
        with self._locked():
            return self._value(key)

    @_mapped
    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        values: list[bytes | None] = []

        def read_then_emit() -> None:
            values.extend(self._value(key) for key in keys)
            if message is not None and all(value is None for value in values):
                self._emit(message)

        self._write(read_then_emit, "events")  # inside a batch, it runs with the batch's writes
        return values

    @_mapped
    def pop_data(self, key: str) -> bytes | None:
        with self._locked():
            value = self._value(key)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path_for_key(key))
            return value

    @_mapped
    def has_data_for_key(self, key: str) -> bool:
        with self._locked():
            return os.path.exists(self.path_for_key(key))

    @_mapped
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """``ttl`` (huey 3) is refused: files do not expire (NotImplementedError, as huey 3)."""
        if ttl is not None:
            raise NotImplementedError("FileStorage values do not expire: put_if_empty without ttl")
        with self._locked():
            if os.path.exists(self.path_for_key(key)):
                return False
            self._store(key, names.pack_value(key, value))
        self._notify(["data"])
        return True

    @_mapped
    def wait_for_data(self, key: str, timeout: float) -> bool:
        path = self.path_for_key(key)
        self._refuse_in_batch()
        return wait_until(self._listener("data"), lambda: os.path.exists(path), timeout)

    def _results(self) -> Iterator[tuple[str, bytes]]:
        for directory, _, files in os.walk(self._dir("results")):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    entry = names.unpack_value(_read(os.path.join(directory, name)))
                    if entry is not None:
                        yield entry

    @_mapped
    def result_store_size(self) -> int:
        with self._locked():
            return sum(1 for _ in self._results())

    @_mapped
    def result_items(self) -> dict[str, bytes]:
        with self._locked():
            return dict(self._results())

    @_mapped
    def flush_results(self) -> None:
        with self._locked():
            _empty(self._dir("results"))

    # -- counters (huey 3) ------------------------------------------------------
    @_mapped
    def incr(self, key: str | bytes, amount: int = 1) -> int:
        """Add ``amount`` to the counter ``key`` (0 when new); the new value. Counters are
        apart from the key/value store."""
        path = self._file("counters", names.key_hash(key))
        with self._locked():
            try:
                value = int(_read(path)) + amount
            except (FileNotFoundError, ValueError):  # new, or not a number: start again
                value = amount
            self._put_file(path, b"%d" % value)
        return value

    @_mapped
    def delete_counter(self, key: str | bytes) -> None:
        with self._locked(), contextlib.suppress(FileNotFoundError):
            os.unlink(self._file("counters", names.key_hash(key)))

    @_mapped
    def flush_counters(self) -> None:
        with self._locked():
            _empty(self._dir("counters"))

    # -- errors -----------------------------------------------------------------
    @_mapped
    def put_error(self, metadata: bytes) -> None:
        def record() -> None:
            name = names.number_key(self._numbers("errors"))
            self._put_file(self._file("errors", name), metadata)

        self._write(record)

    @_mapped
    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        with self._locked():
            newest = self._listing("errors")[::-1]
            stop = None if limit is None else offset + max(limit, 0)
            return [self._read("errors", name) for name in newest[offset:stop]]

    @_mapped
    def error_count(self) -> int:
        with self._locked():
            return len(os.listdir(self._dir("errors")))

    @_mapped
    def flush_errors(self) -> None:
        with self._locked():
            _empty(self._dir("errors"))

    # -- events -----------------------------------------------------------------
    @_mapped
    def emit(self, message: str) -> None:
        self._write(lambda: self._emit(message), "events")

    def _emit(self, message: str) -> None:
        number = self._numbers("events")
        self._put_file(self._file("events", names.number_key(number)), message.encode())
        if number % 100 == 0:  # prune now and then, not on every emit
            oldest = names.number_key(number - _EVENTS_KEPT)
            for name in os.listdir(self._dir("events")):
                if name < oldest:
                    os.unlink(self._file("events", name))

    @_mapped
    def __iter__(self) -> Iterator[str]:
        """Start listening now (not at the first ``next``) and yield every later event."""
        listener = Listener(self._file("wake", "events"), self._file("wake", ".new"))
        with self._locked():
            start = self._counter("events")
        return self._listen(listener, start)

    def _listen(self, listener: Listener, start: int) -> Iterator[str]:
        after = names.number_key(start)
        found: list[str] = []

        def arrived() -> bool:
            nonlocal found
            found = [name for name in self._listing("events") if name >= after]
            return bool(found)

        while True:
            with _MAPPING.errors(self.path):
                wait_until(listener, arrived, 60)
                for name in found:
                    with contextlib.suppress(FileNotFoundError):  # pruned meanwhile
                        yield self._read("events", name).decode()
            if found:
                after = names.number_key(names.number_of(found[-1]) + 1)
                found = []

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the block's writes and apply them under one lock at its end (none if it
        raises), in order; a crash midway keeps the first ones (a worker acks last)."""
        state = self._state()
        if getattr(state, "ops", None) is not None:
            yield
            return
        ops: list[tuple[Op, Sequence[str]]] = []
        state.ops = ops
        try:
            yield
        finally:
            state.ops = None
        channels: set[str] = set()
        with _MAPPING.errors(self.path):
            with self._guard():
                for op, wakes in ops:
                    op()
                    channels.update(wakes)
            self._notify(sorted(channels))

    @_mapped
    def flush_all(self) -> None:
        with self._locked():
            for sub in (
                "queue",
                "inflight",
                "consumers",
                "schedule",
                "results",
                "errors",
                "events",
            ):
                _empty(self._dir(sub))

    def close(self) -> None:
        """Stop this thread's listeners (their FIFOs go); the next wait makes new ones."""
        for listener in self._state().__dict__.pop("listeners", {}).values():
            listener.close()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _sorted(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def _empty(directory: str) -> None:
    """Remove everything inside ``directory``, keeping it."""
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _stop(limit: int | None) -> int | None:
    return None if limit is None else max(limit, 0)
