"""Exponential backoff for retrying a storage that went away."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger("huey.consumer")


class Backoff:
    """Doubles the wait after each failure up to ``maximum``; reset on success."""

    def __init__(self, initial: float = 0.1, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.delay = 0.0

    def failed(self, what: str, error: BaseException, sleep: Callable[[float], object]) -> None:
        """Log the failure and sleep (through ``sleep``, so a stop can cut it short)."""
        self.delay = min(self.delay * 2 or self.initial, self.maximum)
        logger.warning("%s: storage unavailable (%s); retrying in %.1fs", what, error, self.delay)
        sleep(self.delay)

    def succeeded(self, what: str) -> None:
        if self.delay:
            logger.info("%s: storage is back", what)
        self.delay = 0.0
