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
from hueyctl import deployment, fleet
from hueyctl.bind import bind
from hueyctl.dashboard.rates import Rates
from hueyctl.errors import BadInput
from hueyctl.model import Manifest

#: How many waiting tasks and errors an instance page lists.
LISTED = 50


def overview(manifests: list[Manifest], rates: Rates, now: float | None = None) -> list[dict]:
    """`hueyctl status` rows, each with its per-minute finished/failed series."""
    now = time.time() if now is None else now
    rows = fleet.status(manifests)
    for row in rows:
        key = f"{row['project']}/{row['instance']}"
        rates.observe(key, now, {"failed": row.get("errors")})
        row["per_minute"] = rates.per_minute(key, now)
    return rows


def deployment_of(manifests: list[Manifest], project: str, instance: str) -> Manifest:
    """The deployment ``project`` holding ``instance``; BadInput when there is none."""
    for manifest in manifests:
        if manifest.project == project:
            manifest.instance(instance)
            return manifest
    raise BadInput(f"no deployment named {project!r} is recorded")


def instance(manifest: Manifest, name: str, now: datetime.datetime | None = None) -> dict:
    """One instance's page: consumers, periodic tasks, waiting tasks and latest errors."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    huey = bind(manifest, [name])[name]
    return {
        "project": manifest.project,
        "instance": name,
        "consumers": consumers(manifest, name),
        "periodic": periodic(huey, now),
        "pending": _revocations(huey, fleet.tasks([manifest], name, "pending", LISTED)),
        "scheduled": _revocations(huey, fleet.tasks([manifest], name, "scheduled", LISTED)),
        "errors": fleet.errors([manifest], name, LISTED),
    }


def _revocations(huey: Any, rows: list[dict]) -> list[dict]:
    """Mark each waiting task revoked when its id or its whole task is."""
    for row in rows:
        row["revoked"] = huey.is_revoked(row["task_id"]) or huey.is_revoked(row["name"])
    return rows


def consumers(manifest: Manifest, name: str) -> list[dict[str, Any]]:
    """The instance's consumer as supervisord runs it, on this host."""
    sup = deployment.supervisor(manifest)
    info = sup.processes().get(name, {}) if sup.is_running() else {}
    workers = manifest.instance(name).options.workers
    row = deployment.process_row(name, info, workers=workers)
    return [{"host": socket.gethostname(), **row}]


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
    "restart": _restart,
    "reload": _reload,
}


def act(manifest: Manifest, name: str, action: str, body: dict) -> list[dict]:
    """Run one of :data:`ACTIONS` on an instance; the rows its CLI command prints."""
    if action not in ACTIONS:
        raise BadInput(f"no action {action!r}: one of {', '.join(ACTIONS)}")
    return ACTIONS[action](manifest, name, body)
