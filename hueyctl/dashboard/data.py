"""What the dashboard shows and does, as JSON-ready rows from hueyctl's library functions.

The page and the JSON API read the same functions the ``--json`` commands print, so a
script and the page never disagree.
"""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import Callable
from typing import Any

from huey.crontab import Crontab
from huey.metrics import BUCKETS, COUNTERS, ConsumerMetrics, TaskMetrics, read_metrics
from hueyctl import chores, deployment, fleet, metrics
from hueyctl.dashboard.rates import Rates
from hueyctl.errors import BadInput
from hueyctl.model import Manifest

#: How many waiting tasks and errors an instance page lists.
LISTED = 50
PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def overview(manifests: list[Manifest], rates: Rates, now: float | None = None) -> list[dict]:
    """`hueyctl status` rows, each with what its consumers recorded: how many heartbeat,
    tasks finished and failed (and their per-minute series), the oldest pending age."""
    now = time.time() if now is None else now
    surveys = {(s.project, s.instance): s for s in metrics.survey(manifests, now)}
    rows = fleet.status(manifests)
    for row in rows:
        key = f"{row['project']}/{row['instance']}"
        row.update(_summary(surveys[row["project"], row["instance"]]))
        rates.observe(key, now, {"finished": row["finished"], "failed": row["failed"]})
        row["per_minute"] = rates.per_minute(key, now)
    return rows


def _summary(survey: metrics.Survey) -> dict[str, Any]:
    found = survey.metrics
    if found is None:
        return dict.fromkeys(("heartbeating", "finished", "failed", "oldest_pending_age"))
    return {
        "heartbeating": survey.live_consumers(),
        "finished": sum(t.finished for t in found.tasks.values()),
        "failed": sum(t.failed for t in found.tasks.values()),
        "oldest_pending_age": found.oldest_pending_age,
    }


def deployment_of(manifests: list[Manifest], project: str, instance: str) -> Manifest:
    """The deployment ``project`` holding ``instance``; BadInput when there is none."""
    for manifest in manifests:
        if manifest.project == project:
            manifest.instance(instance)
            return manifest
    raise BadInput(f"no deployment named {project!r} is recorded")


def instance(manifest: Manifest, name: str, now: datetime.datetime | None = None) -> dict:
    """One instance's page: its supervised process, the consumers that heartbeat, the
    periodic tasks, waiting tasks, latest errors, and per task counts and run times."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    huey = fleet.bound(manifest, name)
    found = read_metrics(huey, now.timestamp())
    return {
        "project": manifest.project,
        "instance": name,
        "process": process(manifest, name),
        "consumers": [consumer_row(c, now.timestamp()) for c in found.consumers],
        "tasks": [task_row(task, counts) for task, counts in found.tasks.items()],
        "periodic": periodic(huey, now),
        "pending": _revocations(huey, fleet.tasks([manifest], name, "pending", LISTED)),
        "scheduled": _revocations(huey, fleet.tasks([manifest], name, "scheduled", LISTED)),
        "errors": chores.errors([manifest], name, LISTED),
    }


def _revocations(huey: Any, rows: list[dict]) -> list[dict]:
    """Mark each waiting task revoked when its id or its whole task is."""
    for row in rows:
        row["revoked"] = huey.is_revoked(row["task_id"]) or huey.is_revoked(row["name"])
    return rows


def process(manifest: Manifest, name: str) -> dict[str, Any]:
    """The instance's consumer as this host's supervisord runs it."""
    sup = deployment.supervisor(manifest)
    info = sup.processes().get(name, {}) if sup.is_running() else {}
    return {"host": socket.gethostname(), **deployment.process_row(name, info)}


def consumer_row(consumer: ConsumerMetrics, now: float) -> dict[str, Any]:
    """A consumer as its heartbeat record describes it, wherever it runs."""
    return {
        "consumer": consumer.consumer_id,
        "host": consumer.host,
        "pid": consumer.pid,
        "workers": consumer.workers,
        "worker_type": consumer.worker_type,
        "uptime": now - consumer.started_at if consumer.started_at else None,
        "heartbeat_age": max(0.0, now - consumer.heartbeat),
    }


def task_row(task: str, counts: TaskMetrics) -> dict[str, Any]:
    """One task name's counters and run-time percentiles (bucket bounds, in seconds, or
    text past the last bound)."""
    runs = sum(counts.duration_buckets)
    row: dict[str, Any] = {"task": task, **{name: getattr(counts, name) for name in COUNTERS}}
    row["mean"] = counts.duration_sum / runs if runs else None
    for label, fraction in PERCENTILES.items():
        value = counts.percentile(fraction)
        row[label] = f"> {BUCKETS[-1]:g}s" if value == float("inf") else value
    return row


def periodic(huey: Any, now: datetime.datetime) -> list[dict[str, Any]]:
    """Periodic tasks and when each runs next (None when its test is not a crontab)."""
    rows = []
    for task_class in huey.periodic_tasks():
        schedule = task_class.validate_datetime
        when = schedule.next_match(now) if isinstance(schedule, Crontab) else None
        rows.append(
            {
                "task": task_class.name,
                "schedule": getattr(schedule, "expression", None) or repr(schedule),
                "next_run": when.isoformat() if when else None,
            }
        )
    return sorted(rows, key=lambda row: row["task"])


def waiting(manifest: Manifest, name: str, which: str, args: bool) -> list[dict]:
    """Pending or scheduled tasks, with their arguments only when asked for."""
    if which not in ("pending", "scheduled"):
        raise BadInput(f"no list named {which!r}: pending or scheduled")
    return fleet.tasks([manifest], name, which, LISTED, args)


def _revoke(manifest: Manifest, name: str, body: dict) -> list[dict]:
    if body.get("task"):
        return fleet.revoke_task([manifest], body["task"], name)
    return [fleet.revoke([manifest], _task_id(body), name)]


def _restore(manifest: Manifest, name: str, body: dict) -> list[dict]:
    if body.get("task"):
        return fleet.revoke_task([manifest], body["task"], name, restore=True)
    return fleet.restore([manifest], _task_id(body), name)


def _retry(manifest: Manifest, name: str, body: dict) -> list[dict]:
    return chores.retry([manifest], name, _task_id(body))


def _restart(manifest: Manifest, name: str, body: dict) -> list[dict]:
    infos = deployment.restart(manifest, [name])
    return [deployment.process_row(name, infos[name])]


def _reload(manifest: Manifest, name: str, body: dict) -> list[dict]:
    deployment.reload(manifest, [name])
    return [{"instance": name, "signal": "HUP"}]


def _task_id(body: dict) -> str:
    if not isinstance(body.get("task_id"), str) or not body["task_id"]:
        raise BadInput("give a task_id or a task name")
    return body["task_id"]


ACTIONS: dict[str, Callable[[Manifest, str, dict], list[dict]]] = {
    "revoke": _revoke,
    "restore": _restore,
    "retry": _retry,
    "restart": _restart,
    "reload": _reload,
}


def act(manifest: Manifest, name: str, action: str, body: dict) -> list[dict]:
    """Run one of :data:`ACTIONS` on an instance; the rows its CLI command prints."""
    if action not in ACTIONS:
        raise BadInput(f"no action {action!r}: one of {', '.join(ACTIONS)}")
    return ACTIONS[action](manifest, name, body)
