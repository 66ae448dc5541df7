"""huey 3's ``huey.utils`` names that apps import: what a chord callback finds in place of
a member that failed (:data:`Error`) or never ran (:data:`SKIPPED`), :class:`FileLock`,
the lock between processes that FileStorage holds, the time helpers
(:func:`normalize_time`, :func:`normalize_expire_time`, :func:`utcnow`) and
:func:`load_class`, how huey 3's start scripts load the app."""

from __future__ import annotations

import datetime
import fcntl
import importlib
import os
import threading
from types import TracebackType
from typing import Any

from .result import ErrorResult
from .task import Expires, compute_eta, utcnow

__all__ = [
    "SKIPPED",
    "Error",
    "FileLock",
    "load_class",
    "normalize_expire_time",
    "normalize_time",
    "utcnow",
]

#: What a task that failed for good leaves in the result store (reading it through a
#: Result raises TaskException), and what a chord callback gets for a failed member.
Error = ErrorResult


class _Skipped:
    """The type of :data:`SKIPPED`: one instance, which pickles by name so it stays the one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIPPED"

    def __reduce__(self) -> str:
        return "SKIPPED"


#: A chord member's result when it never ran (revoked, expired, canceled, locked).
SKIPPED = _Skipped()


class FileLock:
    """An exclusive lock between processes (and threads) on one host: ``flock`` on ``filename``.

    Each thread locks through a descriptor of its own, so threads of one process exclude
    each other too. The directory is created if missing; the lock file is never removed
    (removing it would let a second process lock a new file while the first holds the old).
    Not reentrant: a thread that acquires twice waits for itself.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._local = threading.local()
        directory = os.path.dirname(filename)
        if directory:
            os.makedirs(directory, exist_ok=True)

    def acquire(self) -> None:
        fd = os.open(self.filename, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._local.fd = fd

    def release(self) -> None:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            return
        self._local.fd = None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)  # closing alone would release it too; unlocking first says so

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def normalize_time(
    eta: datetime.datetime | None = None,
    delay: float | datetime.timedelta | None = None,
    utc: bool = True,
) -> datetime.datetime:
    """The naive time a task given ``eta`` or ``delay`` runs at: UTC with ``utc``, else
    local time (an aware ``eta`` is converted, a naive one is read as local time).
    ValueError unless exactly one of the two is given; a delay of 0 means now."""
    if (eta is None) == (delay is None):
        raise ValueError("pass either eta (a datetime) or delay (seconds), not both or neither")
    if eta is not None and not isinstance(eta, datetime.datetime):
        raise ValueError(f"eta must be a datetime, not {type(eta).__name__}")
    return compute_eta(eta, delay, convert_utc=utc)  # type: ignore[return-value]


def normalize_expire_time(expires: Expires, utc: bool = True) -> datetime.datetime:
    """When a task with ``expires`` (a datetime, or seconds/timedelta from now) expires."""
    if isinstance(expires, datetime.datetime):
        return normalize_time(eta=expires, utc=utc)
    return normalize_time(delay=expires, utc=utc)


def load_class(path: str) -> Any:
    """``package.module.name`` -> that object: how huey 3's scripts load a Huey instance.
    ImportError or AttributeError when there is no such module or name."""
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)
