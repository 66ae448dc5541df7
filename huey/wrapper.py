"""TaskWrapper: what ``@huey.task()`` puts in place of a function, and the huey 3 call
options (``id``, ``eta``, ``priority``, ...) a call of it takes for the task."""

from __future__ import annotations

import datetime
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError
from .task import (
    Expires,
    QueueTask,
    compute_eta,
)

if TYPE_CHECKING:
    from .api import Huey
    from .result import ResultGroup, TaskResultWrapper

#: What huey 3's schedule() accepts as its first argument in place of ``args``.
_WHEN = (int, float, datetime.timedelta, datetime.datetime)

#: Keywords a call of a task takes as options for the task (huey 3's), not for the function.
CALL_OPTIONS = frozenset(
    {
        "id",
        "eta",
        "delay",
        "retries",
        "retry_delay",
        "retry_backoff",
        "priority",
        "expires",
        "timeout",
    }
)


def _call_options(func: Callable[..., Any]) -> frozenset[str]:
    """The call options ``func`` leaves to the task: those it has no parameter for (none
    when it takes ``**kwargs``, or has no signature to read: the specification passes
    every keyword of a call to the function)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return frozenset()
    return CALL_OPTIONS.difference(p.name for p in parameters if p.kind is not p.VAR_POSITIONAL)


def default_task_name(func: Callable[..., Any]) -> str:
    """``module.qualname``: two functions of one name in different modules never collide."""
    return f"{func.__module__}.{func.__qualname__}"


class TaskWrapper:
    """What ``@huey.task()`` puts in place of the function: calling it enqueues a call."""

    def __init__(
        self,
        huey: Huey,
        func: Callable[..., Any],
        retries: int = 0,
        retry_delay: float = 0,
        retries_as_argument: bool = False,
        include_task: bool = False,
        name: str | None = None,
        task_base: type[QueueTask] | None = None,
        **task_settings: Any,
    ) -> None:
        if isinstance(func, TaskWrapper):  # a task of one Huey made a task of another
            func = func.func
        if inspect.iscoroutinefunction(func):
            raise ConfigurationError(
                f"{func.__qualname__} is a coroutine function, which a worker cannot run: "
                "decorate a plain function that calls asyncio.run() on it"
            )
        self.huey = huey
        self.func = func
        self.name = name or default_task_name(func)
        self._call_options = _call_options(func)
        include_task = include_task or task_settings.pop("context", False)  # huey 3's name
        attributes = {
            "name": self.name,
            "func": staticmethod(func),
            "default_retries": retries,
            "default_retry_delay": retry_delay,
            "retries_as_argument": retries_as_argument,
            "include_task": include_task,
            "__module__": func.__module__,
            "__qualname__": f"queuecmd_{func.__name__}",
        }
        attributes.update(
            {k: staticmethod(v) if callable(v) else v for k, v in task_settings.items()}
        )
        for option in ("priority", "expires", "timeout", "retry_backoff"):  # huey 3's defaults
            if option in task_settings:
                attributes[f"default_{option}"] = task_settings.pop(option)
        base = task_base or QueueTask
        self.task_class: type[QueueTask] = type(f"queuecmd_{func.__name__}", (base,), attributes)
        huey.register(self.task_class)
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> TaskResultWrapper | Any:
        return self.huey.enqueue(self.s(*args, **kwargs))

    @property
    def retries(self) -> int:
        """The retries each call gets unless it says otherwise."""
        return self.task_class.default_retries

    @property
    def retry_delay(self) -> float:
        """The seconds between retries unless a call says otherwise."""
        return self.task_class.default_retry_delay

    def s(self, *args: Any, **kwargs: Any) -> QueueTask:
        """A task for this call, not yet enqueued (for pipelines and enqueue()).

        huey 3's call options ``id``, ``eta``, ``delay``, ``retries``, ``retry_delay``,
        ``priority``, ``expires`` and ``timeout`` are taken from ``kwargs`` unless the
        function itself accepts that keyword (then it is the function's argument)."""
        options = {k: kwargs.pop(k) for k in self._call_options.intersection(kwargs)}
        eta = compute_eta(options.pop("eta", None), options.pop("delay", None), self.huey.utc)
        return self.task_class((args, kwargs), execute_time=eta, **options)

    def schedule(
        self,
        args: Iterable[Any] | float | datetime.timedelta | datetime.datetime | None = None,
        kwargs: dict[str, Any] | None = None,
        eta: datetime.datetime | None = None,
        delay: float | datetime.timedelta | None = None,
        convert_utc: bool = True,
        task_id: str | None = None,
        *,
        id: str | None = None,
        priority: int | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        expires: Expires = None,
        timeout: float | None = None,
        retry_backoff: float | None = None,
    ) -> TaskResultWrapper | Any:
        """Enqueue a call to run at ``eta`` or after ``delay`` seconds (see compute_eta);
        huey 3's ``id``, ``priority``, ``retries``, ``retry_delay``, ``retry_backoff``,
        ``expires`` and ``timeout`` override the task's defaults. With the Huey's
        ``utc=False`` times are local.
        As in huey 3, a call without arguments may pass its time first: ``schedule(60)``,
        ``schedule(timedelta(...))`` or ``schedule(datetime)``."""
        if eta is None and delay is None and isinstance(args, _WHEN):
            if isinstance(args, datetime.datetime):
                eta, args = args, None
            else:
                delay, args = args, None
        task = self.task_class(
            (tuple(args or ()), dict(kwargs or {})),
            task_id=task_id or id,
            execute_time=compute_eta(eta, delay, convert_utc and self.huey.utc),
            retries=retries,
            retry_delay=retry_delay,
            priority=priority,
            expires=expires,
            timeout=timeout,
            retry_backoff=retry_backoff,
        )
        return self.huey.enqueue(task)

    def map(self, argument_list: Iterable[Any]) -> ResultGroup | list[Any] | None:
        """Enqueue one call per item (a tuple item is unpacked as args) in one round trip;
        a ResultGroup of their handles, None without a result store (as huey 3), the list
        of values with ``always_eager``."""
        from .result import ResultGroup  # result imports this module

        tasks = [self.s(*(a if isinstance(a, tuple) else (a,))) for a in argument_list]
        results = self.huey.enqueue_many(tasks)
        if self.huey.always_eager:
            return results
        return ResultGroup(results) if self.huey.result_store else None

    def call_local(self, *args: Any, **kwargs: Any) -> Any:
        """Call the user function directly, without enqueueing."""
        return self.func(*args, **kwargs)

    def revoke(self, revoke_until: datetime.datetime | None = None, revoke_once: bool = False):
        """Revoke every instance of this task (see Huey.revoke_all)."""
        return self.huey.revoke_all(self.task_class, revoke_until, revoke_once)

    def is_revoked(
        self,
        dt: datetime.datetime | None = None,
        peek: bool = True,
        *,
        timestamp: datetime.datetime | None = None,
    ) -> bool:
        """Whether every instance is revoked (at ``dt``, huey 3's ``timestamp``); see
        Huey.is_revoked for ``peek``."""
        return self.huey.is_revoked(self.task_class, dt or timestamp, peek)

    def restore(self) -> bool:
        return self.huey.restore_all(self.task_class)

    def unregister(self) -> bool:
        """huey 3's: this Huey forgets the task; True if it was registered."""
        return self.huey.unregister(self.task_class)

    def __repr__(self) -> str:
        return f"<TaskWrapper {self.name}>"
