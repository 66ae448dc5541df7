"""What a consumer counts per task name, kept in memory by whoever counts (a worker, the
scheduler, the heartbeat thread) and published with the heartbeat (see huey.metrics).

Each writer owns one flat array of numbers, WIDTH cells per task name registered when
the consumer starts: a plain list for threads and greenlets, shared memory for worker
processes, so the parent reads a forked worker's counts without any message passing.
One writer per array and no lock: the reader may see a count one task old.
"""

from __future__ import annotations

import bisect
import os
import socket
import time
from collections.abc import Callable, Iterable, MutableSequence
from dataclasses import dataclass, field

from ..exceptions import TaskLockedException
from ..execution import Execution, Outcome
from ..metrics import BUCKETS, COUNTERS, ConsumerMetrics, TaskMetrics, merge, record_key

_SUM = len(COUNTERS)  # cell of the total run time, then one cell per histogram bucket
_FIRST_BUCKET = _SUM + 1
WIDTH = _FIRST_BUCKET + len(BUCKETS) + 1  # the last bucket is +Inf
_CELL = {name: index for index, name in enumerate(COUNTERS)}


class Counters:
    """One writer's counts: ``count`` a named event, ``ran`` a finished execution."""

    def __init__(self, names: Iterable[str], cells: MutableSequence[float] | None = None) -> None:
        self.names = tuple(names)
        self.offsets = {name: index * WIDTH for index, name in enumerate(self.names)}
        self.cells = [0.0] * (WIDTH * len(self.names)) if cells is None else cells

    def count(self, name: str, counter: str, amount: int = 1) -> None:
        """Add ``amount`` to ``counter`` (one of COUNTERS) of task ``name``; names not
        registered when the consumer started are not counted."""
        offset = self.offsets.get(name)
        if offset is not None:
            self.cells[offset + _CELL[counter]] += amount

    def ran(self, name: str, execution: Execution) -> None:
        """Count what became of one run of task ``name`` and how long it took."""
        offset = self.offsets.get(name)
        if offset is None:
            return
        cells, outcome = self.cells, execution.outcome
        if outcome is Outcome.REVOKED:
            cells[offset + _CELL["revoked"]] += 1
            return
        if outcome is Outcome.CANCELED:
            return
        cells[offset + _CELL["started"]] += 1
        if outcome is Outcome.FINISHED:
            cells[offset + _CELL["finished"]] += 1
        elif not isinstance(execution.exception, TaskLockedException):
            cells[offset + _CELL["failed"]] += 1
        if outcome is Outcome.RETRYING:
            cells[offset + _CELL["retried"]] += 1
        cells[offset + _SUM] += execution.duration
        cells[offset + _FIRST_BUCKET + bisect.bisect_left(BUCKETS, execution.duration)] += 1

    def snapshot(self) -> dict[str, TaskMetrics]:
        """The counts so far, per task name that has any."""
        cells = list(self.cells)  # one copy: shared memory may change while it is read
        tasks = {}
        for name, offset in self.offsets.items():
            row = cells[offset : offset + WIDTH]
            if any(row):
                tasks[name] = TaskMetrics(
                    **{counter: int(row[_CELL[counter]]) for counter in COUNTERS},
                    duration_sum=row[_SUM],
                    duration_buckets=tuple(int(n) for n in row[_FIRST_BUCKET:]),
                )
        return tasks


class Tally:
    """Every writer's Counters in one consumer, made once per writer id so a replaced
    worker goes on counting where the dead one stopped."""

    def __init__(self, names: Iterable[str], cells: Callable[[int], MutableSequence[float]]):
        self.names = tuple(names)
        self.make_cells = cells
        self.writers: dict[str, Counters] = {}

    def writer(self, writer_id: str) -> Counters:
        if writer_id not in self.writers:
            cells = self.make_cells(WIDTH * len(self.names))
            self.writers[writer_id] = Counters(self.names, cells)
        return self.writers[writer_id]

    def totals(self) -> dict[str, TaskMetrics]:
        return merge([counters.snapshot() for counters in list(self.writers.values())])


@dataclass(frozen=True)
class Publisher:
    """What a consumer publishes with each heartbeat: who it is and its tally."""

    consumer_id: str
    tally: Tally
    workers: int
    worker_type: str
    started_at: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return record_key(self.consumer_id)

    def record(self, now: float) -> bytes:
        return ConsumerMetrics(
            consumer_id=self.consumer_id,
            heartbeat=now,
            host=socket.gethostname(),
            pid=os.getpid(),
            workers=self.workers,
            worker_type=self.worker_type,
            started_at=self.started_at,
            tasks=self.tally.totals(),
        ).to_json()
