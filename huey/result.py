"""TaskResultWrapper: read a task's result, blocking with timeout and backoff, and
act on the task it stands for (revoke, restore, reschedule)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import DataStoreTimeout, TaskException
from .task import QueueTask, compute_eta

if TYPE_CHECKING:
    from .api import Huey


@dataclass(frozen=True)
class ErrorResult:
    """Stored in place of a result when a task failed for good; reading it raises."""

    metadata: dict[str, Any] = field(default_factory=dict)


#: Returned by Huey.read_result when the result store holds nothing for a task.
EMPTY: Any = object()


def wait_for_result(
    huey: Huey,
    task_id: str,
    blocking: bool = False,
    timeout: float | None = None,
    backoff: float = 1.15,
    max_delay: float = 1.0,
    preserve: bool = False,
) -> Any:
    """The stored value for ``task_id`` (EMPTY if none and not blocking).

    Blocking waits use the storage's wake-up signal, so a result is seen within
    milliseconds of being stored; ``backoff`` and ``max_delay`` bound each wait
    (they are the polling interval on storages that cannot signal). A wait that saw the
    result stored but could not read it (another reader took it, or it failed to verify)
    raises DataStoreTimeout, as huey 3 does, rather than waiting for good.
    """
    value = huey.read_result(task_id, preserve)
    if not blocking or value is not EMPTY:
        return value
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.1
    while value is EMPTY:
        wait = delay if huey.storage.blocking is False else max_delay
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DataStoreTimeout(f"no result for task {task_id} within {timeout}s")
            wait = min(wait, remaining)
        stored = huey.storage.wait_result(task_id, wait, backoff, max_delay)
        delay = min(delay * backoff, max_delay)
        value = huey.read_result(task_id, preserve)
        if stored and value is EMPTY:
            raise DataStoreTimeout(f"the result of task {task_id} was stored but not readable")
    return value


class TaskResultWrapper:
    """The handle returned when a task is enqueued; reads its result once it is stored."""

    def __init__(self, huey: Huey, task: QueueTask) -> None:
        self.huey = huey
        self.task = task
        self._value: Any = EMPTY

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def id(self) -> str:
        """huey 3's name for :attr:`task_id`."""
        return self.task.task_id

    def is_ready(self) -> bool:
        """True once the result is stored, as huey 3: it is read into this handle then (and
        so removed from the store), so this handle's next :meth:`get` cannot miss it."""
        if self._value is EMPTY:
            self._value = self.huey.read_result(self.task_id)
        return self._value is not EMPTY

    def reset(self) -> None:
        """Forget the value read, so the next :meth:`get` reads the store again."""
        self._value = EMPTY

    def get(
        self,
        blocking: bool = False,
        timeout: float | None = None,
        backoff: float = 1.15,
        max_delay: float = 1.0,
        revoke_on_timeout: bool = False,
        preserve: bool = False,
    ) -> Any:
        """The task's return value, or None if not ready (see wait_for_result).

        A failed task raises TaskException; a timeout raises DataStoreTimeout (and
        revokes the task first when ``revoke_on_timeout``). Once read, the value is
        kept on this wrapper, so reading again returns it even though the store
        dropped it.
        """
        if self._value is EMPTY:
            try:
                value = wait_for_result(
                    self.huey, self.task_id, blocking, timeout, backoff, max_delay, preserve
                )
            except DataStoreTimeout:
                if revoke_on_timeout:
                    self.revoke()
                raise
            if value is EMPTY:
                return None
            self._value = value
        if isinstance(self._value, ErrorResult):
            raise TaskException(self._value.metadata)
        return self._value

    __call__ = get

    def revoke(self, revoke_until: datetime.datetime | None = None, revoke_once: bool = False):
        """Stop this task instance from running, unless it already started."""
        return self.huey.revoke(self.task, revoke_until, revoke_once)

    def restore(self) -> bool:
        """Undo :meth:`revoke` (a class-wide revoke stays in force)."""
        return self.huey.restore(self.task)

    def is_revoked(self) -> bool:
        """True if this instance or its whole task class is revoked."""
        return self.huey.is_revoked(self.task)

    def reschedule(
        self,
        eta: datetime.datetime | None = None,
        delay: float | datetime.timedelta | None = None,
        convert_utc: bool = True,
        *,
        priority: int | None = None,
        expires: Any = None,
        preserve_pipeline: bool = True,
    ) -> TaskResultWrapper | Any:
        """Revoke this instance and enqueue a copy (new id) at ``eta``/``delay``, or now;
        huey 3's ``priority`` and ``expires`` replace the original's, and without
        ``preserve_pipeline`` the copy drops its ``then()`` and ``error()`` tasks.

        No check is made that the original has not already run.
        """
        self.revoke()
        task = type(self.task)(
            self.task.data,
            execute_time=compute_eta(eta, delay, convert_utc and self.huey.utc),
            retries=self.task.retries,
            retry_delay=self.task.retry_delay,
            on_complete=self.task.on_complete if preserve_pipeline else None,
            priority=self.task.priority if priority is None else priority,
            expires=self.task.expires if expires is None else expires,
            on_error=self.task.on_error if preserve_pipeline else None,
            timeout=self.task.timeout,
            retry_backoff=self.task.retry_backoff,
        )
        return self.huey.enqueue(task)

    def __repr__(self) -> str:
        return f"<TaskResultWrapper {self.task!r}>"


#: huey 3's name for the result handle.
Result = TaskResultWrapper


class ResultGroup:
    """The handles of several tasks (what ``task.map()`` returns); ``get`` reads them all."""

    def __init__(self, results: list[TaskResultWrapper]) -> None:
        self.results = results

    def get(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Each task's result, in order; arguments as :meth:`TaskResultWrapper.get`."""
        return [result.get(*args, **kwargs) for result in self.results]

    __call__ = get

    def as_completed(self, backoff: float = 1.15, max_delay: float = 1.0) -> Iterator[Any]:
        """Each task's result as soon as it is stored, in the order they finish; waits
        on the storage's wake-up signal for the oldest pending one, at most ``max_delay``."""
        pending = list(self.results)
        delay = 0.01
        while pending:
            ready = [result for result in pending if result.is_ready()]
            for result in ready:
                pending.remove(result)
                yield result.get()
            if pending and not ready:
                self.results[0].huey.storage.wait_for_data(pending[0].task_id, delay)
                delay = min(delay * backoff, max_delay)

    def __getitem__(self, index: int) -> Any:
        """huey 3's: the result at ``index``, waiting until it is stored (iterate for the
        handles)."""
        return self.results[index].get(blocking=True)

    def __iter__(self) -> Iterator[TaskResultWrapper]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


class PipelineResults(list):
    """A pipeline's handles, one per step: the specification's list of TaskResultWrapper
    (indexing gives a handle), which reads every value when called, as huey 3's
    ResultGroup does."""

    def get(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Each step's result, in order; arguments as :meth:`TaskResultWrapper.get`."""
        return [result.get(*args, **kwargs) for result in self]

    __call__ = get
