"""The everyday chores on one instance's storage: purge what is named, retry failed tasks,
call a task by hand, and read results and errors as people want to see them.

Each function takes loaded manifests and an instance name and returns plain rows for
the CLI; storage is reached only through the instance's bound Huey.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Sequence
from typing import Any

from huey.exceptions import DataStoreTimeout, MessageError, TaskException
from huey.result import ErrorResult
from huey.task import QueueTask, compute_eta
from hueyctl.bind import import_object
from hueyctl.errors import BadInput, OperationFailed
from hueyctl.fleet import one
from hueyctl.model import Manifest

#: What `purge` can empty, in the order it is shown.
PARTS = ("queue", "schedule", "results", "errors")


def sizes(manifests: list[Manifest], instance: str, parts: Sequence[str]) -> dict[str, int]:
    """How many entries each named part of the instance's storage holds now."""
    return _sizes(one(manifests, instance), parts)


def _sizes(huey: Any, parts: Sequence[str]) -> dict[str, int]:
    counts = {
        "queue": huey.storage.queue_size,
        "schedule": huey.storage.schedule_size,
        "results": lambda: len(huey.all_results()),
        "errors": huey.storage.error_count,
    }
    return {part: counts[part]() for part in parts}


def purge(manifests: list[Manifest], instance: str, parts: Sequence[str]) -> dict[str, Any]:
    """Empty the named parts; how many entries each lost. Results go one by one, since
    locks, revocations and scheduler claims share their store and must stay."""
    huey = one(manifests, instance)
    storage = huey.storage
    flushes = {
        "queue": storage.flush_queue,
        "schedule": storage.flush_schedule,
        "errors": storage.flush_errors,
    }
    removed = _sizes(huey, [part for part in parts if part in flushes])
    for part in removed:
        flushes[part]()
    if "results" in parts:
        removed["results"] = sum(storage.pop_data(key) is not None for key in huey.all_results())
    return {"instance": instance, **{part: removed[part] for part in parts}}


def retry(
    manifests: list[Manifest],
    instance: str,
    task_id: str | None = None,
    task: str | None = None,
) -> list[dict[str, Any]]:
    """Re-enqueue failed tasks from the error store, each under a new id: the one with
    ``task_id``, every run of ``task``, or (neither) every task whose last failure was
    final. The kept message is decoded as a worker would, signature first."""
    huey = one(manifests, instance)
    latest: dict[str, dict[str, Any]] = {}
    for entry in huey.errors():  # newest first: keep each task's last failure
        if "task_id" in entry:
            latest.setdefault(entry["task_id"], entry)
    if task_id is not None:
        chosen = [latest[task_id]] if task_id in latest else []
    else:  # a failure with retries left was followed by a retry of its own
        chosen = [e for e in latest.values() if task in (None, e["task"]) and not e["retries"]]
    if not chosen:
        what = f"task {task_id}" if task_id else f"task named {task!r}" if task else "task"
        raise OperationFailed(f"{instance}: no failed {what} in the error store")
    return [_requeue(huey, instance, entry) for entry in chosen]


def _requeue(huey: Any, instance: str, entry: dict[str, Any]) -> dict[str, Any]:
    row = {"instance": instance, "task": entry["task"], "task_id": entry["task_id"]}
    try:
        old = huey.deserialize_task(base64.b64decode(entry.get("payload") or "", validate=True))
    except (MessageError, binascii.Error) as exc:
        return {**row, "new_task_id": None, "note": f"not retried: {_why(entry, exc)}"}
    # A new id and the class's retries; the pipeline and the priority stay.
    new = type(old)(
        old.data, on_complete=old.on_complete, priority=old.priority, on_error=old.on_error
    )
    huey.enqueue(new)
    return {**row, "new_task_id": new.task_id}


def _why(entry: dict[str, Any], exc: Exception) -> str:
    if not entry.get("payload"):
        return "the error entry keeps no message (recorded by an older huey-ng?)"
    return f"{type(exc).__name__}: {exc}"


def call(
    manifests: list[Manifest],
    instance: str,
    task: str,
    args: str | None = None,
    kwargs: str | None = None,
    delay: float | None = None,
    eta: str | None = None,
) -> Any:
    """Enqueue ``task`` (its registered name, or ``module:function``) with JSON arguments;
    its TaskResultWrapper. ``eta`` is ISO 8601, naive meaning local time."""
    huey = one(manifests, instance)
    task_class = _task_class(huey, task, instance)
    data = (tuple(_json(args, "--args", list, [])), _json(kwargs, "--kwargs", dict, {}))
    utc = next(m.instances[instance] for m in manifests if instance in m.instances).options.utc
    when = _eta(eta) if eta else None
    if when is not None and delay is not None:
        raise BadInput("give --delay or --eta, not both")
    return huey.enqueue(task_class(data, execute_time=compute_eta(when, delay, utc)))


def _task_class(huey: Any, name: str, instance: str) -> type[QueueTask]:
    try:
        return huey.task_class(name)
    except MessageError:
        pass
    if ":" in name:
        try:
            return huey.task_class(import_object(name).name)
        except (ImportError, AttributeError, MessageError):
            pass
    raise BadInput(
        f"{instance}: no task {name!r}; give its registered name (module.function, as "
        "`hueyctl pending` shows it) or module:function"
    )


def _json(text: str | None, option: str, kind: type, default: Any) -> Any:
    if text is None:
        return default
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{option}: not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise BadInput(f"{option}: give a JSON {'list' if kind is list else 'object'}")
    return value


def _eta(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text).astimezone()
    except ValueError:
        raise BadInput(f"--eta {text!r}: use an ISO time like 2026-01-31T18:00") from None


def outcome(result: Any, timeout: float) -> dict[str, Any]:
    """Wait up to ``timeout`` seconds for a called task: its value or its error."""
    row: dict[str, Any] = {"task_id": result.task_id}
    try:
        return {**row, "value": repr(result.get(blocking=True, timeout=timeout))}
    except TaskException as exc:  # a failed attempt: the last one, or one to be retried
        retries = exc.metadata.get("retries")
        then = f" ({retries} retries left)" if retries else ""
        raise OperationFailed(f"task {result.task_id} failed{then}: {exc}") from None
    except DataStoreTimeout:
        raise OperationFailed(f"task {result.task_id}: no result within {timeout:g}s") from None


def results(manifests: list[Manifest], instance: str, limit: int | None) -> list[dict]:
    """Stored results not yet read, with their values (left in place: reading one with
    the API consumes it). A value is unpickled only once its signature verifies."""
    huey = one(manifests, instance)
    items = sorted(huey.all_results().items())[:limit]
    return [{"instance": instance, "task_id": k, **_value(huey, v)} for k, v in items]


def _value(huey: Any, raw: bytes) -> dict[str, Any]:
    try:
        value = huey.serializer.loads(raw)
    except MessageError as exc:
        return {"value": None, "note": f"unreadable: {type(exc).__name__}: {exc}"}
    if isinstance(value, ErrorResult):
        return {"value": None, "error": value.metadata.get("error")}
    return {"value": repr(value)}


def errors(manifests: list[Manifest], instance: str, limit: int | None) -> list[dict]:
    """Recorded task failures, newest first, each time with its UTC offset (entries of
    older versions, written in naive UTC, are read as UTC), and whether it can be retried."""
    huey = one(manifests, instance)
    return [
        {
            "instance": instance,
            **{k: v for k, v in entry.items() if k != "payload"},
            "time": _aware(entry.get("time")),
            "retryable": bool(entry.get("payload") and entry.get("task_id")),
        }
        for entry in huey.errors(limit)
    ]


def _aware(stamp: Any) -> str | None:
    try:
        when = datetime.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.isoformat(timespec="seconds")
