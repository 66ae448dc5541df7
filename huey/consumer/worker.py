"""A worker: takes one message at a time from the queue (recorded as in flight under
its own id), runs it, and acks it in the same storage batch as the result."""

from __future__ import annotations

import base64
import datetime
import logging
from typing import TYPE_CHECKING, Protocol

from .. import events
from ..exceptions import MessageError, QueueException
from ..execution import Execution, execute
from ..task import utcnow
from .backoff import Backoff

if TYPE_CHECKING:
    from ..api import Huey

logger = logging.getLogger("huey.consumer.worker")


class Flag(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def consumer_clock(utc: bool) -> datetime.datetime:
    """Now, on the consumer's clock: naive UTC by default, naive local time with -o."""
    return utcnow() if utc else datetime.datetime.now()


class Worker:
    """Runs tasks until ``stop`` is set; :meth:`step` does one fetch-and-run."""

    def __init__(
        self,
        huey: Huey,
        worker_id: str,
        stop: Flag,
        utc: bool = True,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.huey = huey
        self.worker_id = worker_id
        self.stop = stop
        self.utc = utc
        self.fetch_timeout = fetch_timeout
        self.backoff = Backoff()
        self._orphans = False  # a storage error may have left our own message in flight

    def loop(self) -> None:
        logger.debug("worker %s started", self.worker_id)
        while not self.stop.is_set():
            self.step()
        logger.debug("worker %s stopped", self.worker_id)

    def step(self, now: datetime.datetime | None = None) -> Execution | None:
        """Fetch one message (blocking up to fetch_timeout) and process it."""
        storage = self.huey.storage
        try:
            if self._orphans:
                storage.requeue(self.worker_id)
                self._orphans = False
            data = storage.fetch(self.worker_id, self.fetch_timeout)
            self.backoff.succeeded(self.worker_id)
            if data is None:
                return None
            if self.stop.is_set():  # stopping: hand the message straight back
                storage.requeue(self.worker_id)
                return None
            return self.process(data, now)
        except QueueException as exc:
            self._orphans = True
            self.backoff.failed(f"worker {self.worker_id}", exc, self.stop.wait)
            return None

    def process(self, data: bytes, now: datetime.datetime | None = None) -> Execution | None:
        """Decode and run one fetched message; undecodable ones go to the error store."""
        huey = self.huey
        storage = huey.storage
        now = now or consumer_clock(self.utc)
        try:
            task = huey.deserialize_task(data)
        except MessageError as exc:
            logger.error(
                "undecodable message (%d bytes) sent to the error store: %s", len(data), exc
            )
            with storage.batch():
                huey.record_error(
                    {
                        "error": f"{type(exc).__name__}: {exc}",
                        "payload": base64.b64encode(data).decode(),
                        "time": now.isoformat(),
                    }
                )
                huey.emit(events.EVENT_ERROR_DEQUEUEING, error=str(exc))
                storage.ack(self.worker_id, data)
            return None
        if task.execute_time is not None and task.execute_time > now:
            with storage.batch():
                storage.add_to_schedule(data, task.execute_time)
                huey.emit(events.EVENT_SCHEDULED, task)
                storage.ack(self.worker_id, data)
            return None
        return execute(huey, task, now, finish=lambda: storage.ack(self.worker_id, data))
