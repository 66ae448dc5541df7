"""Every exception the library raises.

The tree::

    HueyException
    +-- ConfigurationError          a Huey, storage URL or consumer option is wrong
    |   +-- TaskNameTaken           a second task claims a registered name (also a ValueError)
    +-- QueueException              the storage failed an operation
    |   +-- QueueWriteException
    |   +-- QueueReadException
    |   +-- QueueRemoveException
    |   +-- DataStoreGetException
    |   +-- DataStorePutException
    |   +-- DataStoreTimeout        a blocking result wait ran out of time
    |   +-- ScheduleAddException
    |   +-- ScheduleReadException
    |   +-- StorageError            the backend refused an operation (carries .backend_message)
    |       +-- StorageUnavailable  the server cannot be reached (retried with backoff)
    |       +-- CorruptEntry        a queue entry is not a message's bytes (carries .data)
    +-- MessageError                a message or stored record failed to verify or decode (.data)
        +-- SignatureError          unsigned or altered payload, signing on (a ValueError too)
        +-- UnknownTaskError        the payload names a task this process never registered

Control flow lives outside that tree, so ``except HueyException`` never swallows it::

    CancelExecution                 raised by a hook (not run) or a task (retry= decides)
    RetryTask                       raised by a task: run it again (after eta/delay), retries kept
    TaskLockedException             lock_task could not acquire its lock
    RateLimitExceeded               a huey.rate_limit window is full (retried, or failed)
    TaskException                   reading the result of a task that failed (carries .metadata)
"""

from __future__ import annotations

import datetime
from typing import Any


class HueyException(Exception):
    """Base of every error the library raises (not of control-flow exceptions)."""


class ConfigurationError(HueyException):
    """A Huey, storage URL or consumer option is invalid."""


class TaskNameTaken(ConfigurationError, ValueError):
    """Another task is registered under this name; a ValueError too, as huey 3 raises."""


class QueueException(HueyException):
    """The storage failed an operation."""


class QueueWriteException(QueueException):
    pass


class QueueReadException(QueueException):
    pass


class QueueRemoveException(QueueException):
    pass


class DataStoreGetException(QueueException):
    pass


class DataStorePutException(QueueException):
    pass


class DataStoreTimeout(QueueException):
    """A blocking wait for a task's result reached its timeout."""


#: huey 3's name for a result wait that timed out.
ResultTimeout = DataStoreTimeout


class ScheduleAddException(QueueException):
    pass


class ScheduleReadException(QueueException):
    pass


class StorageError(QueueException):
    """The backend refused an operation (OOM, READONLY, a lock held too long, a full disk...);
    ``backend_message`` is what the backend said, so an operator can act on it."""

    def __init__(self, message: str, backend_message: str = "") -> None:
        super().__init__(message)
        self.backend_message = backend_message or message


class StorageUnavailable(StorageError):
    """The storage server cannot be reached; the consumer retries with backoff."""


class CorruptEntry(StorageError):
    """A queue entry that is not a message's bytes was taken off the queue; ``data`` holds
    what was there, as bytes, so it can go to the error store."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.data = data


class MessageError(HueyException):
    """A message or stored record failed to verify or decode; ``data`` holds the raw bytes."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.data = data


class SignatureError(MessageError, ValueError):
    """Signing is on and the payload is unsigned or its signature does not match."""


class UnknownTaskError(MessageError):
    """The payload names a task that is not registered in this process."""


class CancelExecution(Exception):
    """Raised by a pre-execute hook (the task is dropped) or by the task itself. From the
    task, huey 3's ``retry``: True queues it again (at least once), False never, None
    (default) when it has retries left; either way the run is an error result."""

    def __init__(self, msg: str | None = None, retry: bool | None = None) -> None:
        super().__init__(*(() if msg is None else (msg,)))
        self.retry = retry


class RetryTask(Exception):
    """Raised by a task to be run again at ``eta`` or after ``delay`` seconds (default:
    its retry_delay), without using up one of its retries."""

    def __init__(
        self,
        msg: str | None = None,
        eta: datetime.datetime | None = None,
        delay: float | datetime.timedelta | None = None,
    ) -> None:
        super().__init__(msg or "task asked to be retried")
        self.eta = eta
        self.delay = delay


class TaskLockedException(Exception):
    """lock_task could not acquire its lock; the task is skipped, not failed."""


class TaskTimeout(Exception):
    """huey 3's: the task ran past its ``timeout``; a failure like any other (retries apply)."""

    @classmethod
    def of(cls, task: Any) -> TaskTimeout:
        return cls(f"{task} ran past its timeout of {task.timeout}s")


class RateLimitExceeded(Exception):
    """A ``huey.rate_limit`` window is full; with ``retry`` the task runs again when the
    next window starts (``delay`` seconds), without using up one of its retries."""

    def __init__(self, key: str, delay: float, retry: bool = True) -> None:
        super().__init__(key, delay, retry)  # what pickling passes back to __init__
        self.key = key
        self.delay = delay
        self.retry = retry

    def __str__(self) -> str:
        if self.retry:
            return f'Rate limit exceeded on "{self.key}", retry in {self.delay:.1f}s'
        return f'Rate limit exceeded on "{self.key}"'


class TaskException(Exception):
    """Reading the result of a task that raised; ``metadata`` describes the error."""

    def __init__(self, metadata: dict[str, Any] | None = None, *args: Any) -> None:
        self.metadata = metadata or {}
        super().__init__(self.metadata.get("error", "task failed"), *args)

    def __str__(self) -> str:
        return str(self.metadata.get("error", "task failed"))

    def __reduce__(self) -> tuple:
        return (type(self), (self.metadata,))
