"""Exponential backoff for the consumer's loops, logging each distinct error once."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..exceptions import QueueException, StorageUnavailable

logger = logging.getLogger("huey.consumer")


class Backoff:
    """Doubles the wait after each failure up to ``maximum``; reset on success.

    An outage makes a loop fail many times with the same error: each distinct error is
    logged once until the loop succeeds again, so the log shows what went wrong, not
    how often it was retried."""

    def __init__(self, initial: float = 0.1, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.delay = 0.0
        self._logged: set[tuple[type, str]] = set()

    def failed(self, what: str, error: BaseException, sleep: Callable[[float], object]) -> None:
        """Log the failure if it is new and sleep (through ``sleep``, so a stop can cut it
        short). Errors that are not the storage's are logged with their traceback."""
        self.delay = min(self.delay * 2 or self.initial, self.maximum)
        if (type(error), str(error)) not in self._logged:
            self._logged.add((type(error), str(error)))
            if isinstance(error, StorageUnavailable):
                logger.warning("%s: storage unavailable (%s); retrying with backoff", what, error)
            elif isinstance(error, QueueException):
                logger.warning("%s: storage error (%s); retrying with backoff", what, error)
            else:
                logger.error("%s: unexpected error; retrying with backoff", what, exc_info=error)
        sleep(self.delay)

    def succeeded(self, what: str) -> None:
        if self.delay:
            logger.info("%s: storage is back", what)
        self.delay = 0.0
        self._logged.clear()
