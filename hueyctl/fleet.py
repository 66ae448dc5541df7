"""Tasks and counts across the instances of one or more deployments, via huey's own API.

Each function takes loaded manifests and returns plain rows (dicts) for the CLI to print
as a table or JSON; storage is reached only through the bound Huey objects.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from huey.exceptions import HueyException
from huey.message import Message
from hueyctl import deployment, state
from hueyctl.bind import bind
from hueyctl.diagnose import FAILURES, explain
from hueyctl.errors import BadInput, HueyctlError, OperationFailed
from hueyctl.model import Manifest

_RELATIVE = re.compile(r"(\d+)([smhd])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(
    text: str, now: datetime.datetime | None = None, option: str = "--until", ago: bool = False
) -> datetime.datetime:
    """``30m``, ``2h``, ``1d``, ``90s`` from now (before now when ``ago``), or an ISO 8601
    time (naive = local); a BadInput names ``option`` when ``text`` is neither."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if match := _RELATIVE.match(text.strip()):
        delta = datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return now - delta if ago else now + delta
    try:
        return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc)
    except ValueError:
        raise BadInput(
            f"{option} {text!r}: use 30m, 2h, 1d or an ISO time like 2026-01-31T18:00"
        ) from None


Bound = tuple[Manifest, str, Any]  # (manifest, instance name, its bound Huey)


def bound(manifest: Manifest, name: str) -> Any:
    """The instance's Huey, bound to its storage; a HueyctlError says in one line why not."""
    try:
        return bind(manifest, [name])[name]
    except HueyctlError:
        raise
    except FAILURES as exc:
        raise OperationFailed(f"{name}: {explain(exc)}") from None


def hueys(
    manifests: Iterable[Manifest], instance: str | None = None, notes: list | None = None
) -> list[Bound]:
    """Every instance (or those named ``instance``) with its Huey. One that cannot be
    bound raises, or, given ``notes``, adds a row saying why and the others go on."""
    found: list[Bound] = []
    for manifest in manifests:
        for name in manifest.instances:
            if instance not in (None, name):
                continue
            try:
                found.append((manifest, name, bound(manifest, name)))
            except HueyctlError as exc:
                if notes is None:
                    raise
                notes.append({"instance": name, "note": str(exc)})
    if instance is not None and not found and not notes:
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
    except FAILURES as exc:
        raise OperationFailed(f"{instance}: {explain(exc)}") from None


_COUNTS = ("queued", "scheduled", "results", "errors", "in_flight")


def status(manifests: Iterable[Manifest]) -> list[dict[str, Any]]:
    """Per instance: supervisord's view of the consumer and the storage's counts, or a
    note that says why the counts are missing (one instance never hides the others)."""
    rows = []
    for manifest in manifests:
        infos = deployment.processes(manifest)
        held = deployment.held(manifest)
        for name, instance in manifest.programs().items():  # each replica has its row
            row = {
                "project": manifest.project,
                **deployment.process_row(name, infos.get(name, {})),
                "workers": instance.options.workers,
                **dict.fromkeys(_COUNTS),
            }
            if name in held:
                row["by_hand"] = "stopped"
            try:
                row.update(_counts(instance.name, bound(manifest, instance.name)))
            except HueyctlError as exc:
                row["note"] = str(exc)
            rows.append(row)
    return rows


def recorded(project: str | None = None, state_dir: Path | None = None) -> list[dict[str, Any]]:
    """The deployments `up` recorded (of ``project``, in ``state_dir``): manifest, state
    directory, how many instances and consumers (replicas count) it has and how many of
    those run; one whose manifest is gone or broken says so."""
    wanted = state_dir and state_dir.expanduser().absolute()
    rows = []
    for path, directory in state.recorded():
        if wanted not in (None, directory):
            continue
        row = {"project": None, "manifest": str(path), "state_dir": str(directory)}
        try:
            manifest = state.applied_manifest(path, directory, resolve=False)
            infos = deployment.processes(manifest)
        except HueyctlError as exc:
            if project is None:
                empty = dict.fromkeys(("instances", "consumers", "running"))
                rows.append({**row, **empty, "note": str(exc)})
            continue
        if project not in (None, manifest.project):
            continue
        states = [infos.get(name, {}).get("statename") for name in manifest.programs()]
        row.update(project=manifest.project, instances=len(manifest.instances))
        row["consumers"] = len(states)
        rows.append({**row, "running": states.count("RUNNING")})
    return rows


def healthy(rows: Iterable[dict[str, Any]]) -> bool:
    """Whether every instance of a status runs (or was stopped by hand) and reaches its
    storage."""
    return all(
        (row["state"] == "RUNNING" or row.get("by_hand")) and not row.get("note") for row in rows
    )


def _counts(name: str, huey: Any) -> dict[str, Any]:
    """The storage's counts. Results are counted the way huey lists them: locks,
    revocations and scheduler claims share the key/value store but are not results."""
    storage = huey.storage
    calls = (
        storage.queue_size,
        storage.schedule_size,
        lambda: len(huey.all_results()),
        storage.error_count,
        storage.inflight_size,
    )
    return {key: _storage_call(name, call) for key, call in zip(_COUNTS, calls, strict=True)}


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


def find(
    manifests: list[Manifest], task_id: str, instance: str | None, notes: list
) -> list[dict[str, Any]]:
    """Where ``task_id`` waits: every instance whose pending or scheduled tasks hold it;
    an instance that cannot be searched adds a row to ``notes``."""
    rows = []
    for _manifest, name, huey in hueys(manifests, instance, notes):
        listings = (("pending", huey.pending_messages), ("scheduled", huey.scheduled_messages))
        try:
            for where, messages in listings:
                for message in _storage_call(name, messages):
                    if message.task_id == task_id:
                        rows.append({**task_row(name, message, where), "_huey": huey})
        except OperationFailed as exc:
            notes.append({"instance": name, "note": str(exc)})
    return rows


def _unsearched(notes: list[dict[str, Any]]) -> str:
    """What to add to "not found" when some instances could not be searched."""
    return "".join(f"; not searched: {row['note']}" for row in notes)


def revoke(
    manifests: list[Manifest],
    task_id: str,
    instance: str | None = None,
    until: datetime.datetime | None = None,
    once: bool = False,
) -> dict[str, Any]:
    """Revoke one task by id. Without ``instance`` the id must be pending or scheduled in
    exactly one instance; with it, the id is revoked there even if not seen (yet)."""
    notes: list[dict[str, Any]] = []
    found = find(manifests, task_id, instance, notes)
    if instance is not None and not found:
        huey = one(manifests, instance)
        found = [{"instance": instance, "task_id": task_id, "where": "unseen", "_huey": huey}]
    _only_one(found, task_id, _unsearched(notes))
    row = found[0]
    _storage_call(row["instance"], row.pop("_huey").revoke_by_id, task_id, until, once)
    return {**row, "revoked": True, "until": until.isoformat() if until else None, "once": once}


def restore(manifests: list[Manifest], task_id: str, instance: str | None = None) -> list[dict]:
    """Restore a revoked task id in every instance (or the one named) that revoked it."""
    rows, notes = [], []
    for _manifest, name, huey in hueys(manifests, instance, notes):
        try:
            if _storage_call(name, huey.restore_by_id, task_id):
                rows.append({"instance": name, "task_id": task_id, "restored": True})
        except OperationFailed as exc:
            notes.append({"instance": name, "note": str(exc)})
    if not rows:
        raise OperationFailed(f"task {task_id} is not revoked in any instance{_unsearched(notes)}")
    return rows + notes


def revoke_task(
    manifests: list[Manifest],
    task_name: str,
    instance: str | None = None,
    until: datetime.datetime | None = None,
    once: bool = False,
    restore: bool = False,
) -> list[dict[str, Any]]:
    """Revoke (or restore) every run of a task, by name, in each instance that defines it."""
    rows, notes = [], []
    for _manifest, name, huey in hueys(manifests, instance, notes):
        if not _defines(huey, task_name):
            continue
        try:
            if restore:
                done = _storage_call(name, huey.restore_all, task_name)
            else:
                _storage_call(name, huey.revoke_all, task_name, until, once)
                done = True
        except OperationFailed as exc:
            notes.append({"instance": name, "note": str(exc)})
            continue
        rows.append(
            {"instance": name, "task": task_name, "restored" if restore else "revoked": done}
        )
    if not rows:
        raise BadInput(f"no instance defines a task named {task_name!r}{_unsearched(notes)}")
    return rows + notes


def _defines(huey: Any, task_name: str) -> bool:
    try:
        huey.task_class(task_name)
    except HueyException:
        return False
    return True


def _only_one(found: list[dict[str, Any]], task_id: str, unsearched: str) -> None:
    if not found:
        raise OperationFailed(
            f"task {task_id} is not pending or scheduled in any instance; "
            f"pass --instance to revoke it there anyway{unsearched}"
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
