"""huey 3's ``huey.utils`` names that apps import: what a chord callback finds in place of
a member that failed (:data:`Error`) or never ran (:data:`SKIPPED`), and :class:`FileLock`,
the lock between processes that FileStorage holds."""

from __future__ import annotations

import fcntl
import os
import threading
from types import TracebackType

from .result import ErrorResult

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
