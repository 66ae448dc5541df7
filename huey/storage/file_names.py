"""FileStorage's file names: fixed-width keys whose byte order is the order the storage reads
them in, so a sorted directory listing is the queue, the schedule or the error log."""

from __future__ import annotations

import hashlib
import struct
from urllib.parse import quote, unquote

_OFFSET = 2**63  # numbers are signed 64-bit; offset, they sort as unsigned
_SIGN = 1 << 63
_MASK = 2**64 - 1
KEY = 20  # digits in a number key
SCORE = 16  # hex digits in a score key


def number_key(number: int) -> str:
    """A sequence number (negative too: a requeue goes in front of number 0) as a key."""
    return f"{number + _OFFSET:020d}"


def number_of(key: str) -> int:
    return int(key[:KEY]) - _OFFSET


def priority_key(priority: int) -> str:
    """Higher priorities give smaller keys, so they sort, and leave, first."""
    return f"{_OFFSET - 1 - priority:020d}"


def check_priority(priority: int) -> int:
    if not -_OFFSET <= priority < _OFFSET:
        raise ValueError(f"priority {priority} does not fit in 64 bits")
    return priority


def queue_name(priority_part: str, number: int) -> str:
    """``<priority>-<number>``: highest priority first, then oldest first."""
    return f"{priority_part}-{number_key(number)}"


def score_key(score: float) -> str:
    """A float as 16 hex digits that sort like the floats (the IEEE bits, sign flipped)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", score))
    bits = (~bits & _MASK) if bits & _SIGN else bits | _SIGN
    return f"{bits:016x}"


def score_of(name: str) -> float:
    bits = int(name[:SCORE], 16)
    bits = bits ^ _SIGN if bits & _SIGN else ~bits & _MASK
    return struct.unpack(">d", struct.pack(">Q", bits))[0]


def digest(data: bytes) -> str:
    """Names a scheduled message by its bytes, so scheduling it again finds the old entry."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def consumer_dir(consumer_id: str) -> str:
    """A consumer id as a file name (any characters, never ``.`` or ``..``)."""
    return "c-" + quote(consumer_id, safe="")


def consumer_of(name: str) -> str:
    return unquote(name[2:])


def key_hash(key: str | bytes) -> str:
    """The result file's name for a key (huey 3's layout: md5 hex, not for security)."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def pack_value(key: str | bytes, value: bytes) -> bytes:
    """A result file: the key's length (4 bytes), the key, then the value."""
    raw = key.encode() if isinstance(key, str) else key
    return struct.pack(">I", len(raw)) + raw + value


def unpack_value(content: bytes) -> tuple[str, bytes] | None:
    """(key, value) of a result file, or None for a file that is not one."""
    if len(content) < 4:
        return None
    (size,) = struct.unpack_from(">I", content)
    key = content[4 : 4 + size]
    if len(key) != size:
        return None
    try:
        return key.decode(), content[4 + size :]
    except UnicodeDecodeError:
        return None
