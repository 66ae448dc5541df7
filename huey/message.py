"""The task message: what travels through storage, frozen and versioned.

A task is written straight from its fields (no Message is built for that: enqueueing in
bulk spends its time on such objects) and read back as a frozen :class:`Message`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import MessageError
from .serializer import Serializer

if TYPE_CHECKING:
    from .task import QueueTask

#: Bumped whenever the encoded layout changes; decoders reject versions they do not know.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Message:
    """One enqueued call: which task, its data (``(args, kwargs)`` for decorated
    functions), when, and what follows it."""

    task_id: str
    name: str
    data: Any = None
    eta: datetime.datetime | None = None
    retries: int = 0
    retry_delay: float = 0
    on_complete: Message | None = None


def _as_tuple(task: QueueTask) -> tuple:
    child = _as_tuple(task.on_complete) if task.on_complete is not None else None
    return (
        task.task_id,
        task.name,
        task.data,
        task.execute_time,
        task.retries,
        task.retry_delay,
        child,
    )


def _from_tuple(fields: tuple) -> Message:
    task_id, name, data, eta, retries, retry_delay, child = fields
    return Message(
        task_id,
        name,
        data,
        eta,
        retries,
        retry_delay,
        _from_tuple(child) if child is not None else None,
    )


def encode(task: QueueTask, serializer: Serializer) -> bytes:
    """Serialize the message for ``task`` and its pipeline (a plain tuple pickles faster
    than the dataclass)."""
    return serializer.dumps((FORMAT_VERSION, _as_tuple(task)))


def decode(data: bytes, serializer: Serializer) -> Message:
    """Rebuild a Message; any malformed payload raises MessageError carrying ``data``."""
    payload: Any = serializer.loads(data)
    try:
        version, fields = payload
    except (TypeError, ValueError):
        raise MessageError("payload is not a huey task message", data) from None
    if version != FORMAT_VERSION:
        raise MessageError(f"unsupported message format version {version!r}", data)
    try:
        return _from_tuple(fields)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"malformed task message: {exc}", data) from None
