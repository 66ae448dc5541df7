"""Heartbeats for this consumer's workers (with its metrics record), and requeueing the
in-flight tasks of consumers whose heartbeats stopped (killed, OOM, host lost)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import events
from ..exceptions import MessageError
from ..message import read_metadata
from ..metrics import consumer_of, record_key
from .backoff import Backoff
from .counters import Publisher
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
        publisher: Publisher | None = None,
    ) -> None:
        self.huey = huey
        self.worker_ids = worker_ids
        self.stop = stop
        self.timeout = timeout
        self.publisher = publisher
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
            if self.publisher is not None:
                storage.put_data(self.publisher.key, self.publisher.record(now))
        cutoff = now - self.timeout
        stale = [worker for worker, beat in storage.heartbeats().items() if beat < cutoff]
        lost = self._task_names(stale)
        count = storage.requeue_expired(cutoff)
        for consumer_id in {consumer_of(worker_id) for worker_id in stale}:
            storage.pop_data(record_key(consumer_id))
        if count:
            logger.warning(
                "requeued %d in-flight tasks of consumers that stopped heartbeating", count
            )
            self.huey.emit(events.EVENT_REQUEUED, count=count)
            if self.publisher is not None:
                counters = self.publisher.tally.writer("recovery")
                for name, lost_count in lost.items():
                    counters.count(name, "requeued", lost_count)
        return count

    def _task_names(self, worker_ids: list[str]) -> Counter[str]:
        """How many in-flight tasks of each name ``worker_ids`` hold (read, not moved)."""
        names: Counter[str] = Counter()
        for worker_id in worker_ids:
            for data in self.huey.storage.inflight_items(worker_id):
                try:
                    names[read_metadata(data, self.huey.serializer).name] += 1
                except MessageError:
                    continue
        return names
