"""Per-minute increases of monotonic counters over the last hour, from sampled totals."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping

MINUTES = 60


class Rates:
    """Keeps (time, totals) samples per key for an hour; a drop (a consumer restarted and
    its counts went with it) counts as no increase rather than a negative one."""

    def __init__(self, minutes: int = MINUTES) -> None:
        self.minutes = minutes
        self.samples: dict[str, deque[tuple[float, dict[str, int]]]] = {}
        self.lock = threading.Lock()

    def observe(self, key: str, now: float, totals: Mapping[str, int | None]) -> None:
        known = {name: value for name, value in totals.items() if value is not None}
        with self.lock:
            kept = self.samples.setdefault(key, deque())
            kept.append((now, known))
            while kept and kept[0][0] < now - self.minutes * 60 - 60:
                kept.popleft()

    def per_minute(self, key: str, now: float) -> dict[str, list[int]]:
        """Counter name -> increases in each of the last ``minutes`` minutes, oldest first."""
        with self.lock:
            kept = list(self.samples.get(key, ()))
        series: dict[str, list[int]] = {}
        for (_, before), (when, after) in zip(kept, kept[1:], strict=False):
            age = int((now - when) // 60)
            if not 0 <= age < self.minutes:
                continue
            for name, value in after.items():
                bucket = series.setdefault(name, [0] * self.minutes)
                bucket[self.minutes - 1 - age] += max(0, value - before.get(name, value))
        return series
