"""Tasks and counts across the instances of one or more deployments, via huey's own API.

Each function takes loaded manifests and returns plain rows (dicts) for the CLI to print
as a table or JSON; storage is reached only through the bound Huey objects.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

from huey.exceptions import HueyException
from huey.message import Message
from hueyctl import deployment
from hueyctl.bind import bind
from hueyctl.errors import BadInput, ManifestError, OperationFailed
from hueyctl.model import Manifest

_RELATIVE = re.compile(r"(\d+)([smhd])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """``30m``, ``2h``, ``1d``, ``90s`` from now, or an ISO 8601 time (naive = local)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if match := _RELATIVE.match(text.strip()):
        return now + datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc)
    except ValueError:
        raise BadInput(
            f"--until {text!r}: use 30m, 2h, 1d or an ISO time like 2026-01-31T18:00"
        ) from None


def hueys(manifests: Iterable[Manifest], instance: str | None = None) -> list[tuple]:
    """(manifest, instance name, Huey) for every instance, or only those named ``instance``."""
    found = []
    for manifest in manifests:
        names = [n for n in manifest.instances if instance in (None, n)]
        found += [(manifest, n, h) for n, h in bind(manifest, names).items()]
    if instance is not None and not found:
        raise BadInput(f"no deployment has an instance named {instance!r}")
    return found


def one(manifests: list[Manifest], instance: str) -> Any:
    """The bound Huey of ``instance``, which one deployment only may hold."""
    found = hueys(manifests, instance)
    if len(found) > 1:
        where = ", ".join(str(m.path) for m, _, _ in found)
        raise BadInput(f"instance {instance!r} is in several deployments ({where}); pass -m")
    return found[0][2]


def _storage_call(instance: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except (HueyException, OSError) as exc:
        raise OperationFailed(f"{instance}: storage unavailable: {exc}") from None


def status(manifests: Iterable[Manifest]) -> list[dict[str, Any]]:
    """Per instance: supervisord's view of the consumer and the storage's counts."""
    rows = []
    for manifest in manifests:
        sup = deployment.supervisor(manifest)
        infos = sup.processes() if sup.is_running() else {}
        for name, instance in manifest.instances.items():
            row = {
                "project": manifest.project,
                **deployment.process_row(name, infos.get(name, {})),
                "workers": instance.options.workers,
            }
            try:
                row.update(_counts(bind(manifest, [name])[name]))
            except ManifestError as exc:  # one broken app must not hide the others
                row["note"] = str(exc)
            rows.append(row)
    return rows


def _counts(huey: Any) -> dict[str, Any]:
    """The storage's counts. Results are counted the way huey lists them: locks,
    revocations and scheduler claims share the key/value store but are not results."""
    storage = huey.storage
    try:
        return {
            "queued": storage.queue_size(),
            "scheduled": storage.schedule_size(),
            "results": len(huey.all_results()),
            "errors": storage.error_count(),
            "in_flight": storage.inflight_size(),
        }
    except (HueyException, OSError) as exc:
        empty = dict.fromkeys(("queued", "scheduled", "results", "errors", "in_flight"))
        return {**empty, "note": f"storage unavailable: {exc}"}


def task_row(instance: str, message: Message, where: str, args: bool = False) -> dict[str, Any]:
    """One waiting task; its arguments only when ``args`` (they were unpickled for it)."""
    row = {
        "instance": instance,
        "task_id": message.task_id,
        "name": message.name,
        "where": where,
        "execute_time": message.eta.isoformat() if message.eta else None,
    }
    if args:
        call_args, kwargs = message.data if message.data else ((), {})
        row.update(args=repr(call_args), kwargs=repr(kwargs))
    return row


def find(manifests: list[Manifest], task_id: str, instance: str | None) -> list[dict[str, Any]]:
    """Where ``task_id`` waits: every instance whose pending or scheduled tasks hold it."""
    rows = []
    for _manifest, name, huey in hueys(manifests, instance):
        listings = (("pending", huey.pending_messages), ("scheduled", huey.scheduled_messages))
        for where, messages in listings:
            for message in _storage_call(name, messages):
                if message.task_id == task_id:
                    rows.append({**task_row(name, message, where), "_huey": huey})
    return rows


def revoke(
    manifests: list[Manifest],
    task_id: str,
    instance: str | None = None,
    until: datetime.datetime | None = None,
    once: bool = False,
) -> dict[str, Any]:
    """Revoke one task by id. Without ``instance`` the id must be pending or scheduled in
    exactly one instance; with it, the id is revoked there even if not seen (yet)."""
    found = find(manifests, task_id, instance)
    if instance is not None and not found:
        huey = one(manifests, instance)
        found = [{"instance": instance, "task_id": task_id, "where": "unseen", "_huey": huey}]
    _only_one(found, task_id)
    row = found[0]
    _storage_call(row["instance"], row.pop("_huey").revoke_by_id, task_id, until, once)
    return {**row, "revoked": True, "until": until.isoformat() if until else None, "once": once}


def restore(manifests: list[Manifest], task_id: str, instance: str | None = None) -> list[dict]:
    """Restore a revoked task id in every instance (or the one named) that revoked it."""
    rows = []
    for _manifest, name, huey in hueys(manifests, instance):
        if _storage_call(name, huey.restore_by_id, task_id):
            rows.append({"instance": name, "task_id": task_id, "restored": True})
    if not rows:
        raise OperationFailed(f"task {task_id} is not revoked in any instance")
    return rows


def revoke_task(
    manifests: list[Manifest],
    task_name: str,
    instance: str | None = None,
    until: datetime.datetime | None = None,
    once: bool = False,
    restore: bool = False,
) -> list[dict[str, Any]]:
    """Revoke (or restore) every run of a task, by name, in each instance that defines it."""
    rows = []
    for _manifest, name, huey in hueys(manifests, instance):
        if not _defines(huey, task_name):
            continue
        if restore:
            done = _storage_call(name, huey.restore_all, task_name)
        else:
            _storage_call(name, huey.revoke_all, task_name, until, once)
            done = True
        rows.append(
            {"instance": name, "task": task_name, "restored" if restore else "revoked": done}
        )
    if not rows:
        raise BadInput(f"no instance defines a task named {task_name!r}")
    return rows


def _defines(huey: Any, task_name: str) -> bool:
    try:
        huey.task_class(task_name)
    except HueyException:
        return False
    return True


def _only_one(found: list[dict[str, Any]], task_id: str) -> None:
    if not found:
        raise OperationFailed(
            f"task {task_id} is not pending or scheduled in any instance; "
            "pass --instance to revoke it there anyway"
        )
    if len({row["instance"] for row in found}) > 1:
        names = ", ".join(sorted({row["instance"] for row in found}))
        raise BadInput(f"task {task_id} waits in several instances ({names}); pass --instance")


def tasks(
    manifests: list[Manifest], instance: str, which: str, limit: int | None, args: bool = False
) -> list[dict]:
    """An instance's pending or scheduled tasks, read without unpickling anything unless
    ``args`` asks for their arguments (unpickled only once their signature verifies)."""
    huey = one(manifests, instance)
    listed = _storage_call(instance, getattr(huey, f"{which}_messages"), limit, args)
    return [task_row(instance, message, which, args) for message in listed]


def results(manifests: list[Manifest], instance: str, limit: int | None) -> list[dict]:
    """Stored results not yet read (raw bytes shown by size: reading would consume them)."""
    huey = one(manifests, instance)
    items = sorted(_storage_call(instance, huey.all_results).items())[:limit]
    return [{"instance": instance, "task_id": k, "bytes": len(v)} for k, v in items]


def errors(manifests: list[Manifest], instance: str, limit: int | None) -> list[dict]:
    """Recorded task failures, newest first."""
    huey = one(manifests, instance)
    return [{"instance": instance, **e} for e in _storage_call(instance, huey.errors, limit)]
