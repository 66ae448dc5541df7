"""The scheduler: moves due tasks to the queue and enqueues periodic tasks at each
minute boundary, sleeping until the next due time instead of ticking.

Across a fleet, a minute's periodic tasks are enqueued once: the first consumer to claim
the minute in storage enqueues them. A claim is kept CLAIM_LIFETIME, and a consumer only
claims a minute that is later than the last one it saw, not older than STALE_PASS on its
clock when the claim goes out, and whose next minute no host has claimed yet: so a host
whose clock lags (starting, say, at 11:59:58 on its clock while another has enqueued
12:00), or whose pass stalled (a cut network), does not enqueue a minute again."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import events
from ..storage.base import to_score
from .backoff import Backoff
from .counters import Counters
from .worker import Flag, consumer_clock

if TYPE_CHECKING:
    from ..api import Huey

logger = logging.getLogger("huey.consumer.scheduler")

CLAIM_PREFIX = "huey.periodic."
#: A minute's claim is deleted this many minutes later by any consumer still running.
CLAIM_LIFETIME = datetime.timedelta(minutes=10)
#: A pass whose minute is this old on the consumer's clock when it would claim is skipped.
STALE_PASS = datetime.timedelta(minutes=1)


def claim_key(minute: datetime.datetime) -> str:
    return f"{CLAIM_PREFIX}{minute:%Y%m%d%H%M}"


class Scheduler:
    """Runs until ``stop`` is set; :meth:`step` does one pass and says how long to sleep."""

    def __init__(
        self,
        huey: Huey,
        consumer_id: str,
        stop: Flag,
        utc: bool = True,
        periodic: bool = True,
        global_scheduler: bool = True,
        max_sleep: float = 1.0,
        counters: Counters | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.huey = huey
        self.consumer_id = consumer_id
        self.stop = stop
        self.utc = utc
        self.periodic = periodic
        self.global_scheduler = global_scheduler
        self.max_sleep = max_sleep
        self.clock = clock or (lambda: consumer_clock(utc))
        self.backoff = Backoff()
        self.counters = counters or Counters(())
        self._last_minute: datetime.datetime | None = None

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                sleep = self.step(self.clock())
                if sleep > 0:
                    self.huey.storage.wait_schedule_change(min(sleep, self.max_sleep))
                self.backoff.succeeded("scheduler")
            except Exception as exc:  # any error: logged once, retried with backoff
                self.backoff.failed("scheduler", exc, self.stop.wait)

    def step(self, now: datetime.datetime) -> float:
        """Enqueue what is due at ``now``; seconds until something else will be."""
        storage = self.huey.storage
        moved = storage.enqueue_due(now)
        if moved:
            logger.debug("moved %d scheduled tasks to the queue", moved)
        minute = now.replace(second=0, microsecond=0)
        if self.periodic and (self._last_minute is None or minute > self._last_minute):
            self.enqueue_periodic(minute)
            self._last_minute = minute  # after: a storage error retries the minute
        wake = (minute + datetime.timedelta(minutes=1) - now).total_seconds()
        next_score = storage.next_scheduled_score()
        if next_score is not None:
            wake = min(wake, next_score - to_score(now))
        return max(wake, 0.0)

    def enqueue_periodic(self, minute: datetime.datetime) -> list[str]:
        """Enqueue the periodic tasks due at ``minute``, unless another consumer of
        this instance already claimed the minute (global scheduler). Returns names."""
        huey = self.huey
        if self.global_scheduler:
            huey.storage.pop_data(claim_key(minute - CLAIM_LIFETIME))
        due = [cls for cls in huey.periodic_tasks() if cls.is_due(minute)]
        if not due:
            return []
        if self.clock() - minute >= STALE_PASS:
            logger.warning("periodic tasks for %s skipped: the pass came too late", minute)
            return []
        if self.global_scheduler and huey.storage.has_data_for_key(
            claim_key(minute + datetime.timedelta(minutes=1))
        ):
            logger.info("periodic tasks for %s skipped: a host ahead has the next minute", minute)
            return []
        if self.global_scheduler and not huey.storage.put_if_empty(
            claim_key(minute), self.consumer_id.encode()
        ):
            logger.debug("periodic tasks for %s enqueued by another consumer", minute)
            return []
        for cls in due:
            task = cls()
            huey.enqueue(task)
            huey.emit(events.EVENT_ENQUEUED_PERIODIC, task)
            self.counters.count(cls.name, "enqueued")
            logger.info("enqueued periodic task %s", task)
        return [cls.name for cls in due]
