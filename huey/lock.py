"""lock_task: a named lock in the storage's key/value store, usable as a decorator or
a context manager; a second holder gets TaskLockedException."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import TaskLockedException

if TYPE_CHECKING:
    from .api import Huey

LOCK_PREFIX = "huey.lock."


class TaskLock:
    """A named lock held in storage; see Huey.lock_task."""

    def __init__(self, huey: Huey, name: str) -> None:
        self.huey = huey
        self.name = name
        self.key = LOCK_PREFIX + name

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return locked

    def is_locked(self) -> bool:
        """True while some holder has the lock."""
        return self.huey.storage.has_data_for_key(self.key)

    def clear(self) -> bool:
        """Release the lock whoever holds it; True if it was held."""
        return self.huey.storage.pop_data(self.key) is not None

    def __enter__(self) -> TaskLock:
        if not self.huey.storage.put_if_empty(self.key, b"1"):
            raise TaskLockedException(f"unable to acquire lock {self.name}")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.huey.storage.pop_data(self.key)
