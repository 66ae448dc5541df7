"""lock_task: a named lock in the storage's key/value store, usable as a decorator or
a context manager; a second holder gets TaskLockedException.

A lock with a ``ttl`` (huey 3's option) stores the wall-clock time it lapses at, so a
worker killed while holding it blocks the others for ``ttl`` seconds at most: the next
acquirer takes a lapsed lock over. That works on every backend (no storage TTL needed).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import TaskLockedException

if TYPE_CHECKING:
    from .api import Huey

LOCK_PREFIX = "huey.lock."
_NO_TTL = b"1"  # the value of a lock that never lapses (and of locks from before ttl)


class TaskLock:
    """A named lock held in storage; see Huey.lock_task."""

    def __init__(self, huey: Huey, name: str, ttl: float | None = None) -> None:
        self.huey = huey
        self.name = name
        self.ttl = ttl
        self.key = LOCK_PREFIX + name

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return locked

    def is_locked(self) -> bool:
        """True while some holder has the lock (and, with a ttl, it has not lapsed)."""
        value = self.huey.storage.peek_data(self.key)
        return value is not None and not _lapsed(value)

    locked = is_locked  # huey 3's alias

    def acquire(self) -> bool:
        """Take the lock (True), taking over one whose ttl lapsed; TaskLockedException
        when another holder has it."""
        storage = self.huey.storage
        value = _NO_TTL if self.ttl is None else repr(time.time() + self.ttl).encode()
        if storage.put_if_empty(self.key, value):
            return True
        held = storage.peek_data(self.key)
        if held is not None and _lapsed(held):
            taken = storage.pop_data(self.key)
            if taken != held and taken is not None:  # a fresh holder came first: give it back
                storage.put_if_empty(self.key, taken)
            elif storage.put_if_empty(self.key, value):
                return True
        raise TaskLockedException(f"unable to acquire lock {self.name}")

    def clear(self) -> bool:
        """Release the lock whoever holds it; True if it was held."""
        return self.huey.storage.pop_data(self.key) is not None

    release = clear  # huey 3's alias

    def __enter__(self) -> TaskLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.huey.storage.pop_data(self.key)


def _lapsed(value: bytes) -> bool:
    """Whether a lock's stored value is a lapse time that has passed."""
    if value == _NO_TTL:
        return False
    try:
        return float(value) <= time.time()
    except ValueError:  # not written by a lock with a ttl: held until released
        return False
