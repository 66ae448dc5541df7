"""A worker: takes messages from the queue (recorded as in flight under its own id),
runs them one by one, and acks each in the same storage batch as its result.

While tasks are quick a worker takes up to ``prefetch`` messages in one fetch, which saves
a round trip per task; the ones it has not started stay in flight under its id, so a
crash requeues them like the running one. A batch held longer than HAND_BACK_AFTER (slow
tasks) goes back to the head of the queue for idle workers, and the worker then takes
one message at a time until one is quick again.

Within a batch, the final storage call of one task also opens the next one (checks its
revocations and announces its start, see execution.open_task), so a task costs about
one round trip. Not with hooks registered: they must run between those steps.
"""

from __future__ import annotations

import base64
import datetime
import functools
import logging
import os
import time
from collections import deque
from multiprocessing.sharedctypes import RawValue
from typing import TYPE_CHECKING, Protocol

from .. import events, records
from ..exceptions import ConfigurationError, CorruptEntry, MessageError
from ..execution import Execution, Opening, execute, open_task
from ..task import QueueTask, utcnow
from .backoff import Backoff
from .counters import Counters

if TYPE_CHECKING:
    from ..api import Huey

logger = logging.getLogger("huey.consumer.worker")

#: How many messages a worker takes in one fetch while tasks are quick.
PREFETCH = 8
#: Seconds after which a worker hands the unstarted rest of a batch back to the queue.
HAND_BACK_AFTER = 0.05


class Flag(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def consumer_clock(utc: bool) -> datetime.datetime:
    """Now, on the consumer's clock: naive UTC by default, naive local time with -o; moved
    by ``HUEY_CLOCK_OFFSET`` seconds, which drills a fleet whose hosts' clocks disagree."""
    return (utcnow() if utc else datetime.datetime.now()) + _clock_offset()


@functools.cache
def _clock_offset() -> datetime.timedelta:
    text = os.environ.get("HUEY_CLOCK_OFFSET", "0")
    try:
        return datetime.timedelta(seconds=float(text))
    except ValueError:
        raise ConfigurationError(f"HUEY_CLOCK_OFFSET={text!r} is not a number of seconds") from None


class Pulse:
    """When a worker's loop last came around, in epoch seconds (0 while it runs a task).

    Kept in shared memory, so a consumer reads it for forked workers too: the health check
    tells a worker stuck in a storage call from one busy with a task by it."""

    def __init__(self) -> None:
        self._seen = RawValue("d", time.time())

    def beat(self) -> None:
        self._seen.value = time.time()

    def busy(self) -> None:
        self._seen.value = 0.0

    def retire(self) -> None:
        """The worker ended on purpose (it ran its --max-tasks), not by dying."""
        self._seen.value = -1.0

    @property
    def retired(self) -> bool:
        return self._seen.value == -1.0

    def stale(self, now: float, after: float) -> bool:
        """Silent for more than ``after`` seconds at ``now``, and not running a task."""
        seen = self._seen.value
        return seen > 0.0 and now - seen > after  # 0: busy with a task; -1: retired


class Worker:
    """Runs tasks until ``stop`` is set; :meth:`step` runs one message."""

    def __init__(
        self,
        huey: Huey,
        worker_id: str,
        stop: Flag,
        utc: bool = True,
        fetch_timeout: float = 1.0,
        prefetch: int = PREFETCH,
        hand_back_after: float = HAND_BACK_AFTER,
        counters: Counters | None = None,
        max_tasks: int | None = None,
    ) -> None:
        self.huey = huey
        self.worker_id = worker_id
        self.stop = stop
        self.utc = utc
        self.fetch_timeout = fetch_timeout
        self.prefetch = prefetch
        self.hand_back_after = hand_back_after
        self.max_tasks = max_tasks
        self.started = 0  # tasks this worker has started
        self.backoff = Backoff()
        self.counters = counters or Counters(())
        self._orphans = False  # a storage error may have left our own messages in flight
        self._held: deque[bytes] = deque()  # fetched, not started yet (in flight under our id)
        self._fetched_at = 0.0  # time.monotonic() of the last fetch
        self._opened: tuple[QueueTask, Opening] | None = None  # the first held, announced
        self.pulse = Pulse()

    def loop(self) -> None:
        logger.debug("worker %s started", self.worker_id)
        self._run_hooks(self.huey.startup_hooks())
        while not self.stop.is_set() or self._opened is not None:  # an opened task runs
            self.pulse.beat()
            self.step()
            if self._ran_its_tasks() and self._opened is None:
                logger.info("worker %s ran its %d tasks; it ends", self.worker_id, self.started)
                self.pulse.retire()
                break
        if self._held:
            try:
                self._hand_back()
            except Exception as exc:  # the consumer requeues them when it can
                logger.warning("worker %s could not hand back its batch: %s", self.worker_id, exc)
        self._run_hooks(self.huey.shutdown_hooks())
        logger.debug("worker %s stopped", self.worker_id)

    def _run_hooks(self, hooks: list) -> None:
        """The app's on_startup/on_shutdown hooks; one that raises is logged, the worker runs on."""
        for hook in hooks:
            try:
                hook()
            except Exception:
                logger.exception("worker %s: hook %r failed", self.worker_id, hook)

    def step(self, now: datetime.datetime | None = None) -> Execution | None:
        """Run the next message held, fetching (blocking up to fetch_timeout) when none is.
        Survives any error: logs it once, backs off, and requeues what it held."""
        storage = self.huey.storage
        try:
            if self._orphans:
                storage.requeue(self.worker_id)
                self._orphans = False
            if self._opened is not None:  # its start is announced: it runs, stopping or not
                (task, opening), self._opened = self._opened, None
                data = self._held.popleft()
                return self._execute(task, data, now or consumer_clock(self.utc), opening)
            if self._held and time.monotonic() - self._fetched_at > self.hand_back_after:
                self._hand_back()
            if not self._held:
                # A batch only while the last one was quick; after an empty fetch (idle)
                # that is one message, so waiting costs one blocking call per fetch_timeout.
                quick = time.monotonic() - self._fetched_at <= self.hand_back_after
                self._held.extend(self._fetch(self.prefetch if quick else 1))
                self.backoff.succeeded(f"worker {self.worker_id}")
                if not self._held:
                    return None
                self._fetched_at = time.monotonic()
            if self.stop.is_set():  # stopping: hand the messages straight back
                self._hand_back()
                return None
            return self.process(self._held.popleft(), now)
        except Exception as exc:
            self._held.clear()
            self._opened = None
            self._orphans = True
            self.backoff.failed(f"worker {self.worker_id}", exc, self.stop.wait)
            return None

    def _fetch(self, limit: int) -> list[bytes]:
        """Take up to ``limit`` messages; a foreign entry the storage took off the queue
        instead goes to the error store."""
        try:
            return self.huey.storage.fetch_many(self.worker_id, limit, self.fetch_timeout)
        except CorruptEntry as exc:
            self._record_bad(exc.data, exc)
            return []

    def _hand_back(self) -> None:
        """Put the messages held but not started back at the head of the queue."""
        self._held.clear()
        self.huey.storage.requeue(self.worker_id)  # nothing else of ours is in flight now

    def process(self, data: bytes, now: datetime.datetime | None = None) -> Execution | None:
        """Decode and run one fetched message; undecodable ones go to the error store."""
        huey = self.huey
        storage = huey.storage
        now = now or consumer_clock(self.utc)
        try:
            task = huey.deserialize_task(data)
        except MessageError as exc:
            with storage.batch():
                self._record_bad(data, exc)
                storage.ack(self.worker_id, data)
            return None
        if task.execute_time is not None and task.execute_time > now:
            with storage.batch():
                storage.add_to_schedule(data, task.execute_time)
                huey.emit(events.EVENT_SCHEDULED, task)
                storage.ack(self.worker_id, data)
            return None
        return self._execute(task, data, now)

    def _record_bad(self, data: bytes, error: Exception) -> None:
        """Put a queue entry that is no task into the error store, and say so."""
        logger.error("undecodable message (%d bytes) sent to the error store: %s", len(data), error)
        self.huey.record_error(
            {
                "error": f"{type(error).__name__}: {error}",
                "payload": base64.b64encode(data).decode(),
                "time": records.stamp(),
            }
        )
        self.huey.emit(events.EVENT_ERROR_DEQUEUEING, error=str(error))

    def _execute(
        self, task: QueueTask, data: bytes, now: datetime.datetime, opening: Opening | None = None
    ) -> Execution:
        def finish() -> None:  # inside the task's final batch
            self.huey.storage.ack(self.worker_id, data)
            self._opened = self._open_next(now)

        self.pulse.busy()
        self.started += 1
        execution = execute(self.huey, task, now, finish=finish, opening=opening)
        self.counters.ran(task.name, execution)
        return execution

    def _ran_its_tasks(self) -> bool:
        return self.max_tasks is not None and self.started >= self.max_tasks

    def _open_next(self, now: datetime.datetime) -> tuple[QueueTask, Opening] | None:
        """Open the next held task in the finishing task's batch, when it is due, the batch
        is still quick, nothing is stopping and no hooks must run in between."""
        huey = self.huey
        if (
            not self._held
            or self.stop.is_set()
            or self._ran_its_tasks()
            or time.monotonic() - self._fetched_at > self.hand_back_after
            or huey.pre_execute_hooks()
            or huey.post_execute_hooks()
        ):
            return None
        try:
            task = huey.deserialize_task(self._held[0])
        except MessageError:
            return None  # process() sends it to the error store
        if task.execute_time is not None and task.execute_time > now:
            return None
        return task, open_task(huey, task)
