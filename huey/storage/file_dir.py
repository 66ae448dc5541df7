"""FileStorage's directory: the one lock, writes that land whole, numbered counters, held
batch writes and the FIFO listeners, per thread and safe across fork."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence

from huey.storage.file_wake import Listener, notify
from huey.utils import FileLock

Op = Callable[[], object]


class Directory:
    """``root`` and its ``subdirs``, created on first use. Every change holds one lock: the
    ``.lock`` file (flock) or, with ``use_thread_lock``, a lock of this process only."""

    def __init__(self, root: str, subdirs: Sequence[str], use_thread_lock: bool) -> None:
        self.root = root
        self.subdirs = subdirs
        self.use_thread_lock = use_thread_lock
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()  # per thread: held batch writes, listeners
        self._lock: threading.Lock | FileLock | None = None
        self._written = itertools.count()

    def state(self) -> threading.local:
        """This thread's state; after a fork the child starts with fresh locks and listeners."""
        if self._pid != os.getpid():
            self._reset()
        return self._local

    def lock(self) -> threading.Lock | FileLock:
        """The lock every change holds; the directories exist once it is there."""
        self.state()
        if self._lock is None:
            for sub in self.subdirs:
                os.makedirs(self.path(sub), exist_ok=True)
            self._lock = threading.Lock() if self.use_thread_lock else FileLock(self.path(".lock"))
        return self._lock

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def refuse_in_batch(self) -> None:
        if getattr(self.state(), "ops", None) is not None:
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock for a read or a read-modify-write; refused inside :meth:`batch`."""
        self.refuse_in_batch()
        with self.lock():
            yield

    def write(self, op: Op, *channels: str) -> None:
        """Apply a write under the lock and wake ``channels``, or hold it for the open batch."""
        ops = getattr(self.state(), "ops", None)
        if ops is not None:
            ops.append((op, channels))
            return
        with self.lock():
            op()
        self.notify(channels)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the block's writes and apply them in order under one lock at its end (none
        if it raises); a crash midway keeps the first ones (a worker acks last)."""
        state = self.state()
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
        with self.lock():
            for op, wakes in ops:
                op()
                channels.update(wakes)
        self.notify(sorted(channels))

    def notify(self, channels: Sequence[str]) -> None:
        for channel in channels:
            notify(self.path("wake", channel))

    def listener(self, channel: str) -> Listener:
        """This thread's listener on ``channel``, made on first use."""
        listeners = self.state().__dict__.setdefault("listeners", {})
        if channel not in listeners:
            listeners[channel] = self.new_listener(channel)
        return listeners[channel]

    def listening(self, channel: str) -> bool:
        return channel in self.state().__dict__.get("listeners", {})

    def new_listener(self, channel: str) -> Listener:
        self.lock()
        return Listener(self.path("wake", channel), self.path("wake", ".new"))

    def close(self) -> None:
        """Stop this thread's listeners (their FIFOs go); the next wait makes new ones."""
        for listener in self.state().__dict__.pop("listeners", {}).values():
            listener.close()

    def put(self, path: str, content: bytes) -> None:
        """Write ``content`` to ``path`` by renaming a finished file over it."""
        name = f"{os.getpid()}-{threading.get_ident()}-{next(self._written)}"
        temporary = self.path("tmp", name)
        with open(temporary, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)

    def listing(self, sub: str) -> list[str]:
        """The names in ``sub``, sorted: the order the storage reads them in."""
        return sorted_names(self.path(sub))

    def read(self, *parts: str) -> bytes:
        return read(self.path(*parts))

    def numbers(self, counter: str, count: int = 1) -> int:
        """Reserve ``count`` numbers of ``counter`` (under the lock); the first of them."""
        first = self.counter(counter)
        self.put(self.path("seq", counter), b"%d" % (first + count))
        return first

    def counter(self, counter: str) -> int:
        """The next number ``counter`` gives."""
        try:
            return int(self.read("seq", counter) or 0)
        except FileNotFoundError:
            return 0

    def empty(self, sub: str) -> None:
        """Remove everything inside ``sub``, keeping it."""
        directory = self.path(sub)
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def sorted_names(directory: str) -> list[str]:
    """The sorted names in ``directory``; none when it does not exist."""
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
