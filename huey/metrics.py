"""What an instance's consumers recorded, read back from its storage: per consumer and
per task name, counters and a histogram of run times, plus queue, schedule and
in-flight sizes and the age of the oldest pending task.

Each consumer publishes one JSON record (never a pickle) under ``record_key`` with every
heartbeat and removes it when it stops; a consumer that declares another dead removes
that one's record. Readers find the records through the heartbeat registry, so a
record is read only while its consumer heartbeats.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import MessageError
from .message import read_metadata
from .records import json_object
from .storage.base import to_score

if TYPE_CHECKING:
    from .api import Huey

logger = logging.getLogger("huey.metrics")

#: Counters kept per task name. ``failed`` counts every run that raised (retried or
#: not), ``retried`` the runs put back for a retry, ``requeued`` tasks this consumer took
#: back from a consumer whose heartbeat stopped, ``enqueued`` the periodic tasks it enqueued.
COUNTERS = ("enqueued", "started", "finished", "failed", "retried", "revoked", "requeued")
#: Upper bounds (seconds) of the run-time histogram's buckets; one more bucket is +Inf.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
RECORD_PREFIX = "huey.metrics."
RECORD_VERSION = 1


def record_key(consumer_id: str) -> str:
    return f"{RECORD_PREFIX}{consumer_id}"


def consumer_of(worker_id: str) -> str:
    """The consumer id of a worker id (``<consumer id>:<index>``, see Consumer)."""
    return worker_id.rpartition(":")[0] or worker_id


@dataclass(frozen=True)
class TaskMetrics:
    """Counts for one task name; ``duration_buckets[i]`` counts runs that took at most
    ``BUCKETS[i]`` seconds and more than the bound before it (the last: more than all)."""

    enqueued: int = 0
    started: int = 0
    finished: int = 0
    failed: int = 0
    retried: int = 0
    revoked: int = 0
    requeued: int = 0
    duration_sum: float = 0.0
    duration_buckets: tuple[int, ...] = (0,) * (len(BUCKETS) + 1)

    def __add__(self, other: TaskMetrics) -> TaskMetrics:
        sums = {name: getattr(self, name) + getattr(other, name) for name in COUNTERS}
        buckets = tuple(
            a + b for a, b in zip(self.duration_buckets, other.duration_buckets, strict=True)
        )
        total = self.duration_sum + other.duration_sum
        return TaskMetrics(**sums, duration_sum=total, duration_buckets=buckets)

    def percentile(self, fraction: float) -> float | None:
        """The bucket bound under which ``fraction`` (0..1) of the runs ended: an upper
        estimate; None with no runs, ``inf`` when it lies past the last bound."""
        total = sum(self.duration_buckets)
        if not total:
            return None
        seen = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.duration_buckets, strict=True):
            seen += count
            if seen >= fraction * total:
                return bound
        return float("inf")

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "duration_buckets": list(self.duration_buckets)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TaskMetrics:
        """Parse a stored entry; ValueError when a field is missing or of the wrong type."""
        counts = {name: raw.get(name, 0) for name in COUNTERS}
        buckets = raw.get("duration_buckets")
        total = raw.get("duration_sum", 0.0)
        if not (
            all(type(n) is int for n in counts.values())
            and isinstance(buckets, list)
            and len(buckets) == len(BUCKETS) + 1
            and all(type(n) is int for n in buckets)
            and isinstance(total, (int, float))
        ):
            raise ValueError("task counts of the wrong shape")
        return cls(**counts, duration_sum=float(total), duration_buckets=tuple(buckets))


def merge(tables: list[dict[str, TaskMetrics]]) -> dict[str, TaskMetrics]:
    """Per task name, the sum of several tables of counts."""
    total: dict[str, TaskMetrics] = {}
    for table in tables:
        for name, counts in table.items():
            total[name] = total[name] + counts if name in total else counts
    return dict(sorted(total.items()))


@dataclass(frozen=True)
class ConsumerMetrics:
    """One consumer: where it runs, its last heartbeat (epoch seconds) and its counts."""

    consumer_id: str
    heartbeat: float
    host: str = ""
    pid: int = 0
    workers: int = 0
    worker_type: str = ""
    started_at: float = 0.0
    tasks: dict[str, TaskMetrics] = field(default_factory=dict)

    def to_json(self) -> bytes:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["tasks"] = {name: counts.to_json() for name, counts in self.tasks.items()}
        return json.dumps({"version": RECORD_VERSION, **fields}).encode()

    @classmethod
    def from_json(cls, raw: bytes, heartbeat: float) -> ConsumerMetrics | None:
        """Parse a stored record; None, logged, when it is not one of ours."""
        record = json_object(raw)
        try:
            if record is None or record.get("version") != RECORD_VERSION:
                raise ValueError("not a version 1 metrics record")
            tasks = record["tasks"]
            if not isinstance(tasks, dict):
                raise ValueError("tasks is not an object")
            consumer = cls(
                consumer_id=str(record["consumer_id"]),
                heartbeat=heartbeat,
                host=str(record["host"]),
                pid=int(record["pid"]),
                workers=int(record["workers"]),
                worker_type=str(record["worker_type"]),
                started_at=float(record["started_at"]),
                tasks={str(name): TaskMetrics.from_json(t) for name, t in tasks.items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            logger.warning("skipped a metrics record that does not parse: %s", exc)
            return None
        return consumer


@dataclass(frozen=True)
class InstanceMetrics:
    """One instance at ``read_at``: its live consumers, their counts summed per task
    name, its sizes and how long the oldest pending task has waited (None: no task)."""

    name: str
    read_at: float
    consumers: list[ConsumerMetrics]
    tasks: dict[str, TaskMetrics]
    queue_size: int
    schedule_size: int
    inflight_size: int
    oldest_pending_age: float | None


def read_metrics(huey: Huey, now: float | None = None) -> InstanceMetrics:
    """Read what ``huey``'s consumers published; ``now`` is epoch seconds."""
    now = time.time() if now is None else now
    storage = huey.storage
    beats: dict[str, float] = {}
    for worker_id, beat in storage.heartbeats().items():
        consumer_id = consumer_of(worker_id)
        beats[consumer_id] = max(beat, beats.get(consumer_id, beat))
    consumers = []
    for consumer_id, beat in sorted(beats.items()):
        raw = storage.peek_data(record_key(consumer_id))
        consumer = None if raw is None else ConsumerMetrics.from_json(raw, beat)
        consumers.append(consumer or ConsumerMetrics(consumer_id, beat))
    return InstanceMetrics(
        name=huey.name,
        read_at=now,
        consumers=consumers,
        tasks=merge([consumer.tasks for consumer in consumers]),
        queue_size=storage.queue_size(),
        schedule_size=storage.schedule_size(),
        inflight_size=storage.inflight_size(),
        oldest_pending_age=_oldest_pending_age(huey, now),
    )


def _oldest_pending_age(huey: Huey, now: float) -> float | None:
    """Seconds since the task at the head of the queue was enqueued or became due (an
    ETA is read as UTC); undecodable entries at the head are passed over."""
    for data in huey.storage.enqueued_items(limit=10):
        try:
            message = read_metadata(data, huey.serializer)
        except MessageError:
            continue
        since = message.enqueued
        if message.eta is not None:
            since = max(since, to_score(message.eta))
        return max(now - since, 0.0)
    return None
