"""Stored records that fail to verify or decode (forged, corrupted, or from another
version): each is treated as absent, so it never runs and never stops a worker."""

from __future__ import annotations

import base64
import datetime
import json
import logging
from typing import TYPE_CHECKING, Any

from .exceptions import MessageError

if TYPE_CHECKING:
    from .api import Huey

logger = logging.getLogger("huey.records")


def discard(huey: Huey, key: str, error: MessageError) -> None:
    """Remove the bad record at ``key`` (so it is reported once, not on every read), log
    it and keep its bytes in the error store."""
    huey.storage.pop_data(key)
    logger.error("stored record %r ignored and removed: %s", key, error)
    raw = error.data if isinstance(error.data, bytes) else str(error.data).encode()
    huey.record_error(
        {
            "key": key,
            "error": f"{type(error).__name__}: {error}",
            "payload": base64.b64encode(raw).decode(),
            "time": stamp(),
        }
    )


def stamp() -> str:
    """Now, in ISO 8601 with its UTC offset: the time of a record people read (an error
    entry), unambiguous whatever clock the consumer schedules by."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def json_object(raw: str | bytes) -> dict[str, Any] | None:
    """A JSON object read back from storage (an event, an error entry), or None, logged,
    when it is not one: such records never stop a reader."""
    try:
        value = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        value = exc
    if isinstance(value, dict):
        return value
    logger.warning("skipped a stored record that is not a JSON object: %.80r", raw)
    return None
