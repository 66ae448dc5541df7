"""The task message: what travels through storage, frozen and versioned."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from .exceptions import MessageError
from .serializer import Serializer

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


def _as_tuple(message: Message) -> tuple:
    child = _as_tuple(message.on_complete) if message.on_complete is not None else None
    return (
        message.task_id,
        message.name,
        message.data,
        message.eta,
        message.retries,
        message.retry_delay,
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


def encode(message: Message, serializer: Serializer) -> bytes:
    """Serialize ``message`` (a plain tuple pickles faster than the dataclass)."""
    return serializer.dumps((FORMAT_VERSION, _as_tuple(message)))


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
