"""Revocation records: per task instance and per task class, kept in the key/value store.

A record is ``(revoke_until, revoke_once)``; writing a new one replaces the old, so each
revoke supersedes the last. ``revoke_until`` is stored as naive UTC (a naive argument is
read as local time, matching the spec's ``datetime.now() + ...`` examples).
"""

from __future__ import annotations

import datetime
import pickle

from .exceptions import ConfigurationError
from .storage.base import BaseStorage
from .task import QueueTask, TaskWrapper, to_utc, utcnow

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
    until = to_utc(revoke_until) if revoke_until is not None else None
    storage.put_data(key, pickle.dumps((until, bool(revoke_once))))


def restore(storage: BaseStorage, key: str) -> bool:
    """Drop the record; True if there was one."""
    return storage.pop_data(key) is not None


def check(
    storage: BaseStorage, key: str, dt: datetime.datetime | None = None, consume: bool = False
) -> bool:
    """Is the record at ``key`` in force at ``dt`` (default now)?

    With ``consume`` (the consumer about to run the task), a revoke_once record is
    used up and an expired revoke_until record is cleared.
    """
    raw = storage.peek_data(key)
    if raw is None:
        return False
    until, once = pickle.loads(raw)
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


def task_name(task: TaskWrapper | type[QueueTask] | str) -> str:
    """The registry name of a TaskWrapper, a task class, or a name given as is."""
    if isinstance(task, str):
        return task
    if isinstance(task, TaskWrapper) or (isinstance(task, type) and issubclass(task, QueueTask)):
        return task.name
    raise ConfigurationError(f"expected a task, task class or task name, got {task!r}")
