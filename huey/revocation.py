"""Revocation records: per task instance and per task class, kept in the key/value store.

A record is JSON, ``{"until": ISO time or null, "once": bool}``: plain data, so reading
one never runs code. Writing a new one replaces the old, so each revoke supersedes the
last. ``until`` is stored as naive UTC (a naive argument is read as local time, matching
the spec's ``datetime.now() + ...`` examples). A record that does not decode is treated as
absent: removed, logged and added to the error store (see :mod:`huey.records`).
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING

from . import records
from .exceptions import ConfigurationError, MessageError
from .storage.base import BaseStorage
from .task import QueueTask, to_utc, utcnow
from .wrapper import TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

PREFIX = "huey.revoked."


def instance_key(task_id: str) -> str:
    return f"{PREFIX}id.{task_id}"


def class_key(task: TaskWrapper | type[QueueTask] | str) -> str:
    return f"{PREFIX}class.{task_name(task)}"


def revoke(
    storage: BaseStorage,
    key: str,
    revoke_until: datetime.datetime | None = None,
    revoke_once: bool = False,
) -> None:
    until = to_utc(revoke_until).isoformat() if revoke_until is not None else None
    storage.put_data(key, json.dumps({"until": until, "once": bool(revoke_once)}).encode())


def restore(storage: BaseStorage, key: str) -> bool:
    """Drop the record; True if there was one."""
    return storage.pop_data(key) is not None


def check(huey: Huey, key: str, dt: datetime.datetime | None = None, consume: bool = False) -> bool:
    """Is the record at ``key`` in force at ``dt`` (default now)?

    With ``consume`` (the consumer about to run the task), a revoke_once record is
    used up and an expired revoke_until record is cleared.
    """
    storage = huey.storage
    raw = storage.peek_data(key)
    if raw is None:
        return False
    try:
        until, once = parse(raw)
    except MessageError as exc:
        records.discard(huey, key, exc)
        return False
    if once:
        if consume:
            storage.pop_data(key)
        return True
    if until is None:
        return True
    now = utcnow() if dt is None else to_utc(dt)
    if until > now:
        return True
    if consume:
        storage.pop_data(key)
    return False


def parse(raw: bytes) -> tuple[datetime.datetime | None, bool]:
    """``(until, once)`` from a stored record; MessageError (carrying ``raw``) if it is not one."""
    try:
        record = json.loads(raw)
        until, once = record["until"], record["once"]
        if not isinstance(once, bool):
            raise TypeError("'once' is not a boolean")
        when = datetime.datetime.fromisoformat(until) if until is not None else None
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise MessageError(f"not a revocation record: {type(exc).__name__}: {exc}", raw) from None
    return (to_utc(when) if when is not None and when.tzinfo else when), once


def task_name(task: TaskWrapper | type[QueueTask] | str) -> str:
    """The registry name of a TaskWrapper, a task class, or a name given as is."""
    if isinstance(task, str):
        return task
    if isinstance(task, TaskWrapper) or (isinstance(task, type) and issubclass(task, QueueTask)):
        return task.name
    raise ConfigurationError(f"expected a task, task class or task name, got {task!r}")
