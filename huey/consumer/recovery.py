"""Heartbeats for this consumer's workers, and requeueing the in-flight tasks of
consumers whose heartbeats stopped (killed, OOM, host lost)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import events
from .backoff import Backoff
from .worker import Flag

if TYPE_CHECKING:
    from ..api import Huey

logger = logging.getLogger("huey.consumer.recovery")


class Recovery:
    """Every ``timeout / 3`` seconds: heartbeat each worker id, requeue expired consumers."""

    def __init__(
        self,
        huey: Huey,
        worker_ids: Callable[[], list[str]],
        stop: Flag,
        timeout: float = 30.0,
    ) -> None:
        self.huey = huey
        self.worker_ids = worker_ids
        self.stop = stop
        self.timeout = timeout
        self.backoff = Backoff()

    @property
    def interval(self) -> float:
        return self.timeout / 3

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.step(time.time())
                self.backoff.succeeded("heartbeat")
            except Exception as exc:  # any error: logged once, retried with backoff
                self.backoff.failed("heartbeat", exc, self.stop.wait)
                continue
            self.stop.wait(self.interval)

    def step(self, now: float) -> int:
        """Heartbeat at ``now`` (epoch seconds); return how many tasks were requeued."""
        storage = self.huey.storage
        with storage.batch():
            for worker_id in self.worker_ids():
                storage.heartbeat(worker_id, now)
        count = storage.requeue_expired(now - self.timeout)
        if count:
            logger.warning(
                "requeued %d in-flight tasks of consumers that stopped heartbeating", count
            )
            self.huey.emit(events.EVENT_REQUEUED, count=count)
        return count
