"""huey 3's ``huey.rate_limit``: at most ``limit`` calls per fixed window of ``per`` seconds,
counted in the storage's key/value store so every worker and consumer shares the count.

Each call in a window claims one of ``limit`` slot keys with ``put_if_empty`` (atomic on
every backend, so two workers never take the same slot). The first claim of a window
clears the slots of the window used before it, so nothing piles up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, RateLimitExceeded

if TYPE_CHECKING:
    from .api import Huey

RATE_LIMIT_PREFIX = "huey.rate_limit."


class RateLimit:
    """A named limit of ``limit`` calls per ``per`` seconds; see Huey.rate_limit."""

    def __init__(self, huey: Huey, name: str, limit: int, per: float, retry: bool = True) -> None:
        if limit < 0 or per <= 0:  # limit 0 refuses every call (a switch to pause a task)
            raise ConfigurationError(f"rate limit {name!r} needs limit >= 0 and per > 0")
        self.huey = huey
        self.name = name
        self.limit = limit
        self.per = per
        self.retry = retry
        self._last_key = f"{RATE_LIMIT_PREFIX}{name}.last"

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def limited(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return limited

    def __enter__(self) -> RateLimit:
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """A call counts once it started, whatever its outcome."""

    def _window(self) -> int:
        return int(time.time() // self.per)

    def _slots(self, window: int) -> list[str]:
        return [f"{RATE_LIMIT_PREFIX}{self.name}.{window}.{i}" for i in range(self.limit)]

    def seconds_to_next_window(self) -> float:
        """How long until the count starts again from zero."""
        return (self._window() + 1) * self.per - time.time()

    def current_usage(self) -> int:
        """Calls counted in the current window."""
        taken = self._peek(self._slots(self._window()))
        return sum(value is not None for value in taken)

    def _peek(self, slots: list[str]) -> list[bytes | None]:
        """The slots' values (a limit of 0 has none to read)."""
        return self.huey.storage.peek_or_emit(slots, None) if slots else []

    def acquire(self) -> bool:
        """Count one call (True); RateLimitExceeded, counting nothing, when the window's
        limit is reached."""
        storage = self.huey.storage
        window = self._window()
        slots = self._slots(window)
        for slot, value in zip(slots, self._peek(slots), strict=True):
            if value is None and storage.put_if_empty(slot, b"1"):
                if slot == slots[0]:
                    self._forget_previous(window)
                return True
        raise RateLimitExceeded(self.name, self.seconds_to_next_window(), self.retry)

    def _forget_previous(self, window: int) -> None:
        """Clear the slots of the last window used before ``window``; run once per window."""
        storage = self.huey.storage
        previous = storage.peek_data(self._last_key)
        storage.put_data(self._last_key, str(window).encode())
        if previous is not None and int(previous) != window:
            for slot in self._slots(int(previous)):
                storage.pop_data(slot)

    def reset(self) -> None:
        """Forget the calls counted in the current window."""
        for slot in self._slots(self._window()):
            self.huey.storage.pop_data(slot)
