"""The task message: what travels through storage, frozen and versioned.

Layout (FORMAT_VERSION 3): a 6-byte header (version, signed flag, metadata length),
the HMAC of everything else when signed, the metadata as JSON (per pipeline step: id,
task name, eta, retries, retry delay, enqueued at, and priority, expiry time, the error
pipeline, the timeout, a chord member's chord, the retry backoff and a relative expiry as
given when set), then one pickle holding every step's data. Metadata is read without
unpickling anything (:func:`read_metadata`); with signing on, nothing is read before the
signature, which covers header, metadata and pickle, verifies.

A task is written straight from its fields (no Message is built for that: enqueueing in
bulk spends its time on such objects) and read back as a frozen :class:`Message`.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import json.encoder
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import MessageError
from .serializer import DIGEST_SIZE, Serializer

if TYPE_CHECKING:
    from .task import QueueTask

#: Bumped whenever the encoded layout changes; decoders reject versions they do not know.
FORMAT_VERSION = 3

_HEADER = struct.Struct(">BBI")
_JSON = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()
_quote = json.encoder.encode_basestring_ascii
_END: Any = object()  # marks the end of a message's data list


@dataclass(frozen=True)
class Message:
    """One enqueued call: which task, its data (``(args, kwargs)`` for decorated
    functions; None when read by :func:`read_metadata`), when, and what follows it."""

    task_id: str
    name: str
    data: Any = None
    eta: datetime.datetime | None = None
    retries: int = 0
    retry_delay: float = 0
    on_complete: Message | None = None
    priority: int | None = None
    expires: datetime.datetime | None = None
    on_error: Message | None = None
    enqueued: float = 0.0
    timeout: float | None = None
    #: huey 3's chord membership of a member's last step: (chord id, size, index, callback).
    chord: tuple[str, int, int, Message] | None = None
    retry_backoff: float = 0
    #: A relative ``expires`` as given (seconds); ``expires`` is then the time it was fixed to.
    expires_after: float | None = None


def encode(task: QueueTask, serializer: Serializer) -> bytes:
    """Serialize the message for ``task`` and its pipeline (the metadata JSON is
    formatted by hand: a JSONEncoder call costs more than the rest of the message)."""
    datas: list = []
    metadata = _chain_json(task, datas, repr(time.time())).encode()
    header = _HEADER.pack(FORMAT_VERSION, serializer.signing, len(metadata))
    body = metadata + serializer.pickle(datas)
    return header + serializer.sign(header + body) + body


def _chain_json(task: QueueTask, datas: list, sent: str) -> str:
    """The steps of ``task``'s pipeline, each stamped ``sent`` (when it was written); each
    step's data (then its error pipeline's) is appended to ``datas`` in write order."""
    parts = []
    step: QueueTask | None = task
    while step is not None:
        datas.append(step.data)
        parts.append(_step_json(step, datas, sent))
        step = step.on_complete
    return f"[{','.join(parts)}]"


def _step_json(task: QueueTask, datas: list, sent: str) -> str:
    """A step's metadata; huey 3's options follow only when one of them is set, each only
    as far as the last one set: priority, the expiry time, the error pipeline, the
    timeout, the chord, the retry backoff and a relative expiry as given (in seconds)."""
    extra = ""
    expires, chord = task.expires, task.chord_config
    if (
        task.priority is not None
        or expires is not None
        or task.on_error is not None
        or task.timeout is not None
        or chord is not None
        or task.retry_backoff
    ):
        relative = expires is not None and not isinstance(expires, datetime.datetime)
        parts = [
            "null" if task.priority is None else _number(task.priority),
            _time(task.expires_resolved if relative or expires is None else expires),
            "null" if task.on_error is None else _chain_json(task.on_error, datas, sent),
            "null" if task.timeout is None else _number(task.timeout),
            "null" if chord is None else _chord_json(chord, datas, sent),
            _number(task.retry_backoff) if task.retry_backoff else "null",
            _number(_seconds(expires)) if relative else "null",
        ]
        while len(parts) > 2 and parts[-1] == "null":
            parts.pop()
        extra = "," + ",".join(parts)
    return (
        f"[{_quote(task.task_id)},{_quote(task.name)},{_time(task.execute_time)},"
        f"{_number(task.retries)},{_number(task.retry_delay)},{sent}{extra}]"
    )


def _chord_json(chord: Any, datas: list, sent: str) -> str:
    callback = _chain_json(chord.callback, datas, sent)
    return f"[{_quote(chord.cid)},{_number(chord.size)},{_number(chord.idx)},{callback}]"


def _seconds(delay: float | datetime.timedelta) -> float:
    return delay.total_seconds() if isinstance(delay, datetime.timedelta) else delay


def _time(value: datetime.datetime | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


def _read_time(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)


def _number(value: int | float) -> str:
    """JSON for a count or a delay; the full encoder (which refuses non-numbers) only
    when it is not a plain int."""
    return repr(value) if type(value) is int else _JSON.encode(value)


def read_metadata(data: bytes, serializer: Serializer) -> Message:
    """The message without its data (``data`` is None on every step): nothing is
    unpickled. With signing on, the signature is verified first."""
    steps, _ = _open(data, serializer)
    return _build(steps, None, data)


def decode(data: bytes, serializer: Serializer) -> Message:
    """Rebuild a Message; any malformed payload raises MessageError carrying ``data``
    (SignatureError, before anything is unpickled, when the signature does not match)."""
    steps, pickled = _open(data, serializer)
    datas = serializer.unpickle(pickled, data)
    if not isinstance(datas, list):
        raise MessageError("message data does not match its steps", data)
    remaining = iter(datas)
    message = _build(steps, remaining, data)
    if next(remaining, _END) is not _END:
        raise MessageError("message data does not match its steps", data)
    return message


def priority_of(data: bytes) -> int:
    """The first step's priority (0 when unset or unreadable), for a storage ordering its
    queue. Read without verifying the signature: it only orders, and whoever can write
    storage can reorder the queue anyway (lua/priority.lua reads it the same way)."""
    try:
        version, signed, size = _HEADER.unpack_from(data)
        start = _HEADER.size + (DIGEST_SIZE if signed else 0)
        if version != FORMAT_VERSION:
            return 0
        step = _DECODER.raw_decode(data[start : start + size].decode())[0][0]
        priority = step[6] if len(step) > 6 else 0
    except (struct.error, TypeError, ValueError, IndexError, KeyError, RecursionError):
        return 0
    # Past 64 bits a SQLite INTEGER overflows: such a priority (forged) would stop the
    # scheduler that moves the message to the queue.
    return priority if type(priority) is int and -(2**63) <= priority < 2**63 else 0


def read_all(items: list[bytes], serializer: Serializer, data: bool = False) -> list[Message]:
    """Messages for inspection: metadata only unless ``data``; undecodable ones skipped."""
    read = decode if data else read_metadata
    messages = []
    for raw in items:
        with contextlib.suppress(MessageError):
            messages.append(read(raw, serializer))
    return messages


def _open(data: bytes, serializer: Serializer) -> tuple[list, bytes]:
    """Verify ``data`` and split it into its parsed metadata and its data pickle."""
    try:
        version, signed, size = _HEADER.unpack_from(data)
    except (struct.error, TypeError):  # TypeError: not bytes (a TEXT row, say)
        raise MessageError("payload is not a huey task message", data) from None
    if version != FORMAT_VERSION:
        raise MessageError(f"unsupported message format version {version}", data)
    start = _HEADER.size + (DIGEST_SIZE if signed else 0)
    serializer.verify(data[_HEADER.size : start], data[: _HEADER.size] + data[start:], data)
    try:
        steps, end = _DECODER.raw_decode(data[start : start + size].decode())
        if end != size:
            raise ValueError("extra data after the metadata")
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"message metadata is not JSON: {exc}", data) from None
    if not isinstance(steps, list) or not steps:
        raise MessageError("message metadata holds no steps", data)
    return steps, data[start + size :]


def _build(steps: list, datas: Iterator[Any] | None, data: bytes) -> Message:
    """The Message for a pipeline's steps, taking each step's data (and its error
    pipeline's) from ``datas`` in the order encode wrote them; None data without it."""
    fields = []
    for step in steps:
        try:
            task_id, name, eta, retries, retry_delay, enqueued, *extra = step
            priority, expires, errors, timeout, chord, backoff, after = (*extra, *(None,) * 7)[:7]
            when, until = _read_time(eta), _read_time(expires)
        except (TypeError, ValueError) as exc:
            raise MessageError(f"malformed task message: {exc}", data) from None
        if not (
            isinstance(task_id, str)
            and isinstance(name, str)
            and isinstance(retries, int)
            and isinstance(retry_delay, (int, float))
            and isinstance(enqueued, float)
            and isinstance(priority, (int, type(None)))
            and (errors is None or (isinstance(errors, list) and errors))
            and isinstance(timeout, (int, float, type(None)))
            and (chord is None or _is_chord(chord))
            and isinstance(backoff, (int, float, type(None)))
            and isinstance(after, (int, float, type(None)))
            and len(extra) in (0, 2, 3, 4, 5, 6, 7)
        ):
            raise MessageError("malformed task message: a field has the wrong type", data)
        step_data = None if datas is None else next(datas, _END)
        if step_data is _END:
            raise MessageError("message data does not match its steps", data)
        on_error = None if errors is None else _build(errors, datas, data)
        if chord is not None:
            chord = (*chord[:3], _build(chord[3], datas, data))
        head = (task_id, name, step_data, when, retries, retry_delay)
        tail = (priority, until, on_error, enqueued, timeout, chord, backoff or 0, after)
        fields.append((head, tail))
    message = None
    for head, tail in reversed(fields):  # each step's on_complete is the step after it
        message = Message(*head, message, *tail)
    assert message is not None  # _open refuses an empty step list
    return message


def _is_chord(chord: Any) -> bool:
    """A chord field's shape: [chord id, size, index, callback steps]."""
    return (
        isinstance(chord, list)
        and len(chord) == 4
        and isinstance(chord[0], str)
        and type(chord[1]) is int
        and type(chord[2]) is int
        and isinstance(chord[3], list)
        and bool(chord[3])
    )
