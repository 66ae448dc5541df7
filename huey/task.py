"""Tasks: QueueTask (one execution) and PeriodicQueueTask, plus the time helpers that
turn ``eta``/``delay`` into an execute time. TaskWrapper, the decorated function, is in
:mod:`huey.wrapper`."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from .exceptions import TaskTimeout

if TYPE_CHECKING:
    from .wrapper import TaskWrapper

    pass

#: When a task stops being worth running: seconds or a timedelta from enqueueing, or a time.
Expires = float | datetime.timedelta | datetime.datetime | None


def utcnow() -> datetime.datetime:
    """The current UTC time as a naive datetime (the library's default clock)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def to_utc(dt: datetime.datetime) -> datetime.datetime:
    """Naive UTC for ``dt``: aware values are converted, naive ones are read as local time."""
    return dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def as_timedelta(delay: float | datetime.timedelta) -> datetime.timedelta:
    """A delay given in seconds or as a timedelta, as a timedelta."""
    return delay if isinstance(delay, datetime.timedelta) else datetime.timedelta(seconds=delay)


def compute_eta(
    eta: datetime.datetime | None = None,
    delay: float | datetime.timedelta | None = None,
    convert_utc: bool = True,
) -> datetime.datetime | None:
    """The execute time for ``schedule``/``reschedule``, following the spec's convert_utc note:
    with ``convert_utc`` the result is naive UTC, otherwise naive local time."""
    if eta is not None and delay is not None:
        raise ValueError("pass either eta or delay, not both")
    if delay is not None:
        now = utcnow() if convert_utc else datetime.datetime.now()
        return now + as_timedelta(delay)
    if eta is None:
        return None
    if convert_utc:
        return to_utc(eta)
    if eta.tzinfo is not None:
        return eta.astimezone().replace(tzinfo=None)
    return eta


class _TaskClass(type):
    """Task classes print as ``module.queuecmd_name``, as the spec shows."""

    def __repr__(cls) -> str:
        return f"{cls.__module__}.{cls.__name__}"


#: Task classes written by hand (no ``func``), by name: a consumer runs them once their
#: module is imported, as huey 1.x did, without the application registering them.
HAND_WRITTEN: dict[str, type[QueueTask]] = {}


class QueueTask(metaclass=_TaskClass):
    """One execution of a task; subclasses made by TaskWrapper call the user function.

    ``data`` is ``(args, kwargs)`` for decorated functions. A subclass written by hand
    overrides :meth:`execute` and may carry any picklable ``data``; unless it sets
    ``name`` it is named ``module.QualifiedClassName``, so two never share a name.
    """

    #: Registry name: stable and unique per module and function (or class).
    name: ClassVar[str] = "huey.task.QueueTask"
    default_retries: ClassVar[int] = 0
    default_retry_delay: ClassVar[float] = 0
    default_retry_backoff: ClassVar[float] = 0
    retries_as_argument: ClassVar[bool] = False
    include_task: ClassVar[bool] = False
    default_priority: ClassVar[int | None] = None
    default_expires: ClassVar[Expires] = None
    default_timeout: ClassVar[float | None] = None
    func: ClassVar[Callable[..., Any] | None] = None
    #: huey 3's: on a chord member's last step, the chord it reports to (a
    #: :class:`huey.group.ChordConfig`, set by huey when the chord is enqueued).
    chord_config: Any = None

    def __init__(
        self,
        data: Any = None,
        task_id: str | None = None,
        execute_time: datetime.datetime | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        on_complete: QueueTask | None = None,
        priority: int | None = None,
        expires: Expires = None,
        on_error: QueueTask | None = None,
        timeout: float | None = None,
        *,
        args: Iterable[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        id: str | None = None,
        eta: datetime.datetime | None = None,
        retry_backoff: float | None = None,
        expires_resolved: datetime.datetime | None = None,
    ) -> None:
        if args is not None or kwargs is not None:  # huey 3's spelling of ``data``
            data = (tuple(args or ()), dict(kwargs or {}))
        self.data = ((), {}) if data is None and self.func is not None else data
        self.task_id = task_id or id or str(uuid.uuid4())
        self.execute_time = execute_time or eta
        self.retries = self.default_retries if retries is None else retries
        self.retry_delay = self.default_retry_delay if retry_delay is None else retry_delay
        #: huey 3's option: after each failed attempt ``retry_delay`` is multiplied by it.
        self.retry_backoff = self.default_retry_backoff if retry_backoff is None else retry_backoff
        self.on_complete = on_complete
        self.priority = self.default_priority if priority is None else priority
        #: huey 3's option: seconds or a timedelta (from enqueueing) or a datetime, kept
        #: as given; ``expires_resolved`` is the time it means, fixed at each enqueue.
        self.expires = self.default_expires if expires is None else expires
        self.expires_resolved = expires_resolved
        self.on_error = on_error
        #: huey 3's option: seconds the run may take; past them it fails with TaskTimeout.
        self.timeout = self.default_timeout if timeout is None else timeout
        self._deadline: float | None = None  # monotonic time the run must end by (worker's)

    def resolve_expires(self, now: datetime.datetime) -> None:
        """Fix ``expires_resolved`` as the task is enqueued (``now``): a relative ``expires``
        counts from now or, for a task due later, from its execute time (huey 3 counts
        from when its scheduler enqueues such a task)."""
        if isinstance(self.expires, datetime.datetime):
            self.expires_resolved = self.expires
        elif self.expires is not None:
            start = max(now, self.execute_time) if self.execute_time else now
            self.expires_resolved = start + as_timedelta(self.expires)

    def is_expired(self, now: datetime.datetime) -> bool:
        return self.expires_resolved is not None and now > self.expires_resolved

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = f"{cls.__module__}.{cls.__qualname__}"
        if cls.func is None:
            HAND_WRITTEN[cls.name] = cls

    @property
    def id(self) -> str:
        """huey 3's name for :attr:`task_id`."""
        return self.task_id

    @property
    def args(self) -> tuple:
        """The positional arguments of a decorated function's call."""
        return tuple(self.data[0])

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of a decorated function's call."""
        return dict(self.data[1])

    @property
    def eta(self) -> datetime.datetime | None:
        """huey 3's name for :attr:`execute_time`."""
        return self.execute_time

    @property
    def time_remaining(self) -> float:
        """huey 3's: seconds left before this run times out, never below 0; infinity
        without a timeout, so comparing it is always safe."""
        if self._deadline is None:
            return float("inf")
        return max(0.0, self._deadline - time.monotonic())

    @property
    def is_timed_out(self) -> bool:
        """huey 3's: whether this run has used up its timeout."""
        return self._deadline is not None and time.monotonic() >= self._deadline

    def check_timeout(self) -> None:
        """huey 3's cooperative check (thread and greenlet workers): TaskTimeout when the
        run has used up its timeout."""
        if self.is_timed_out:
            raise TaskTimeout.of(self)

    def execute(self) -> Any:
        """Run the task and return its value."""
        if self.func is None:
            raise NotImplementedError(f"{type(self).__name__} must implement execute()")
        args, kwargs = self.data
        if self.retries_as_argument or self.include_task:
            kwargs = dict(kwargs)
            if self.retries_as_argument:
                kwargs["retries"] = self.retries
            if self.include_task:
                kwargs["task"] = self
        return type(self).func(*args, **kwargs)

    def then(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> QueueTask:
        """Run ``task`` with this task's result when this one finishes; returns ``self``
        so calls chain. A tuple result extends the child's args, a dict its kwargs, and
        anything else one more argument (None adds nothing). ``task`` may be a task
        instance (``task.s()``): ``args`` and ``kwargs`` are added to its own."""
        last = self
        while last.on_complete is not None:
            last = last.on_complete
        last.on_complete = as_callback(task, args, kwargs)
        return self

    def error(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> QueueTask:
        """huey 3's error callback: when this task fails for good (no retries left),
        enqueue ``task`` with the exception added after its arguments; returns ``self``.
        Called again, it sets the callback's own error callback."""
        if self.on_error is not None:
            self.on_error.error(task, *args, **kwargs)
        else:
            self.on_error = as_callback(task, args, kwargs)
        return self

    def chain(self) -> list[QueueTask]:
        """This task followed by every task of its pipeline, in order."""
        tasks, task = [], self
        while task is not None:
            tasks.append(task)
            task = task.on_complete
        return tasks

    def with_parent_result(self, value: Any) -> None:
        """Feed a finished parent's return value into this task's arguments: a tuple's
        items follow the arguments given, a dict's keys fill keyword arguments not given
        already, None adds nothing and any other value is one more argument."""
        if value is None:
            return
        args, kwargs = self.data
        if isinstance(value, tuple):
            args = (*args, *value)
        elif isinstance(value, dict):
            kwargs = {**value, **kwargs}
        else:
            args = (*args, value)
        self.data = (tuple(args), kwargs)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, QueueTask)
            and self.task_id == other.task_id
            and self.name == other.name
            and self.execute_time == other.execute_time
        )

    def __hash__(self) -> int:
        return hash(self.task_id)

    def __repr__(self) -> str:
        eta = f" @{self.execute_time.isoformat()}" if self.execute_time else ""
        retries = f" {self.retries} retries" if self.retries else ""
        return f"{self.name}: {self.task_id}{eta}{retries}"


#: huey 3's name for a queued task.
Task = QueueTask


def as_callback(
    task: TaskWrapper | QueueTask, args: tuple = (), kwargs: dict[str, Any] | None = None
) -> QueueTask:
    """The task ``then()``/``error()`` attach: a call of a TaskWrapper, or a task instance
    with ``args`` after its own and ``kwargs`` filling keywords it was not given."""
    kwargs = kwargs or {}
    if not isinstance(task, QueueTask):
        return task.s(*args, **kwargs)
    if args or kwargs:
        own_args, own_kwargs = task.data
        task.data = ((*own_args, *args), {**kwargs, **own_kwargs})
    return task


class PeriodicQueueTask(QueueTask):
    """A task the consumer enqueues itself whenever ``validate_datetime(now)`` is true."""

    validate_datetime: ClassVar[Callable[[datetime.datetime], bool]]

    @classmethod
    def is_due(cls, timestamp: datetime.datetime) -> bool:
        return bool(cls.validate_datetime(timestamp))


#: huey 3's name for a periodic task (signal receivers test ``isinstance(task, PeriodicTask)``).
PeriodicTask = PeriodicQueueTask
