"""What a deployment's consumers recorded (huey.metrics) with supervisord's view of each
instance, and that survey in the Prometheus text format (`hueyctl metrics`, /metrics).

Counters and the run-time histogram are exported per consumer (a ``consumer`` label), so
a series resets only when its own consumer restarts: summed per instance, one consumer's
restart would drop the total part-way and rate() would count the others' totals again.
Gauges (sizes, consumers up, oldest pending) stay per instance.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from huey.metrics import BUCKETS, COUNTERS, InstanceMetrics, read_metrics
from hueyctl import deployment
from hueyctl.diagnose import FAILURES, explain
from hueyctl.fleet import bound
from hueyctl.model import Manifest

_COUNTER_HELP = {
    "enqueued": "Periodic tasks enqueued by the instance's consumers.",
    "started": "Task runs started (counted when they end).",
    "finished": "Task runs that returned.",
    "failed": "Task runs that raised, whether retried or not.",
    "retried": "Failed task runs put back for a retry.",
    "revoked": "Tasks thrown away because they were revoked.",
    "requeued": "In-flight tasks taken back from a consumer whose heartbeat stopped.",
}


@dataclass(frozen=True)
class Survey:
    """One instance: supervisord's state of its consumer, how long a heartbeat may be
    missing, and what its storage holds (None with ``note`` saying why when unreachable)."""

    project: str
    instance: str
    state: str
    heartbeat_timeout: float
    metrics: InstanceMetrics | None
    note: str = ""

    def live_consumers(self) -> int:
        """Consumers that heartbeated within the timeout."""
        if self.metrics is None:
            return 0
        cutoff = self.metrics.read_at - self.heartbeat_timeout
        return sum(1 for consumer in self.metrics.consumers if consumer.heartbeat >= cutoff)


def survey(manifests: Iterable[Manifest], now: float | None = None) -> list[Survey]:
    """Every instance of ``manifests``; one that cannot be read never hides the others."""
    now = time.time() if now is None else now
    found = []
    for manifest in manifests:
        infos = deployment.processes(manifest)
        held = deployment.held(manifest)
        for name, instance in manifest.instances.items():
            state = _state(manifest, name, infos, held)
            metrics, note = None, ""
            try:
                metrics = read_metrics(bound(manifest, name), now)
            except FAILURES as exc:
                note = explain(exc)
            timeout = instance.options.heartbeat_timeout
            found.append(Survey(manifest.project, name, state, timeout, metrics, note))
    return found


def _state(manifest: Manifest, name: str, infos: dict, held: set[str]) -> str:
    """The state of the instance's consumers: one state when its replicas agree, else
    each replica's; STOPPED_BY_HAND when `hueyctl stop` stopped it."""
    programs = list(manifest.programs([name]))
    if programs[0] in held:
        return deployment.STOPPED_BY_HAND
    states = [deployment.process_row(p, infos.get(p, {}))["state"] for p in programs]
    if len(set(states)) == 1:
        return states[0]
    return ", ".join(f"{p} {s}" for p, s in zip(programs, states, strict=True))


def render(surveys: list[Survey]) -> str:
    """The Prometheus text exposition of ``surveys``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(surveys))
    return generate_latest(registry).decode()


class _Collector:
    """A prometheus_client collector over one survey (read once, rendered once)."""

    def __init__(self, surveys: list[Survey]) -> None:
        self.surveys = surveys

    def collect(self) -> Iterator[Metric]:
        labels = ["project", "instance"]
        task_labels = [*labels, "consumer", "task"]
        counters = {
            name: CounterMetricFamily(f"huey_tasks_{name}", _COUNTER_HELP[name], labels=task_labels)
            for name in COUNTERS
        }
        durations = HistogramMetricFamily(
            "huey_task_duration_seconds", "How long task runs took.", labels=task_labels
        )
        gauges = {key: GaugeMetricFamily(name, text, labels=labels) for key, name, text in _GAUGES}
        for survey in self.surveys:
            where = [survey.project, survey.instance]
            gauges["running"].add_metric(where, survey.state == "RUNNING")
            gauges["storage"].add_metric(where, survey.metrics is not None)
            gauges["consumers"].add_metric(where, survey.live_consumers())
            metrics = survey.metrics
            if metrics is None:
                continue
            for key, value in _sizes(metrics).items():
                gauges[key].add_metric(where, value)
            for consumer in metrics.consumers:
                for task, counts in consumer.tasks.items():
                    series = [*where, consumer.consumer_id, task]
                    for name, family in counters.items():
                        family.add_metric(series, getattr(counts, name))
                    durations.add_metric(
                        series, _cumulative(counts.duration_buckets), counts.duration_sum
                    )
        yield from counters.values()
        yield durations
        yield from gauges.values()


_GAUGES = (
    ("running", "huey_instance_running", "1 when supervisord reports the consumer RUNNING."),
    ("storage", "huey_storage_up", "1 when the instance's storage answered."),
    ("consumers", "huey_consumers_up", "Consumers heartbeating within the heartbeat timeout."),
    ("queue", "huey_queue_tasks", "Tasks waiting in the queue."),
    ("schedule", "huey_schedule_tasks", "Tasks waiting for their execute time."),
    ("in_flight", "huey_in_flight_tasks", "Tasks taken by a worker and not finished."),
    ("age", "huey_oldest_pending_age_seconds", "How long the next queued task has waited."),
)


def _sizes(metrics: InstanceMetrics) -> dict[str, Any]:
    return {
        "queue": metrics.queue_size,
        "schedule": metrics.schedule_size,
        "in_flight": metrics.inflight_size,
        "age": metrics.oldest_pending_age or 0.0,
    }


def _cumulative(buckets: tuple[int, ...]) -> list[tuple[str, int]]:
    """Prometheus buckets (``le`` bound, runs at most that long) from per-bucket counts."""
    total, result = 0, []
    for bound_, count in zip((*map(str, BUCKETS), "+Inf"), buckets, strict=True):
        total += count
        result.append((bound_, total))
    return result
