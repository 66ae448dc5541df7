"""MiniHuey (huey 3's ``huey.contrib.mini``): tasks run in greenlets inside the
application's own process, with no consumer and no storage.

Calling a task spawns a greenlet at once and returns a :class:`MiniResult`. Scheduled
and periodic tasks wait for :meth:`MiniHuey.start`, which runs a scheduler greenlet
checking every ``interval`` seconds. Nothing is persisted: no retries, revocation or
results that outlive the process. Times are the process's local time. Needs gevent.
"""

from __future__ import annotations

import datetime
import functools
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any

try:
    import gevent
    import gevent.event
    import gevent.pool
except ImportError:  # pragma: no cover - gevent is a test dependency
    raise ImportError("MiniHuey needs gevent: pip install 'huey-ng[gevent]'") from None

from huey.utils import normalize_time

__all__ = ["MiniHuey", "MiniResult"]

logger = logging.getLogger("huey.mini")

Validate = Callable[[datetime.datetime], bool]


class MiniResult(gevent.event.AsyncResult):
    """A task's outcome: ``get(block=True, timeout=None)``, or calling the result, waits
    and returns the task's value or raises its exception."""

    def __call__(self, block: bool = True, timeout: float | None = None) -> Any:
        return self.get(block, timeout)


class MiniTask:
    """A function decorated with :meth:`MiniHuey.task`: calling it runs it in a greenlet."""

    def __init__(self, huey: MiniHuey, func: Callable[..., Any]) -> None:
        functools.update_wrapper(self, func)
        self.huey = huey
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> MiniResult:
        result = MiniResult()
        self.huey.spawn(self.func, args, kwargs, result)
        return result

    def schedule(
        self,
        args: tuple | list | None = None,
        kwargs: dict[str, Any] | None = None,
        delay: float | datetime.timedelta | None = None,
        eta: datetime.datetime | None = None,
    ) -> MiniResult:
        """Run after ``delay`` seconds or at ``eta`` (exactly one; ValueError otherwise),
        once the scheduler is started."""
        when = normalize_time(eta, delay, utc=False)
        result = MiniResult()
        self.huey.add_to_schedule(when, self.func, tuple(args or ()), kwargs or {}, result)
        return result


class MiniHuey:
    """``MiniHuey(name='huey', interval=1, pool_size=None)``: at most ``pool_size`` tasks
    run at once (no limit by default); the scheduler checks every ``interval`` seconds."""

    def __init__(
        self, name: str = "huey", interval: float = 1, pool_size: int | None = None
    ) -> None:
        self.name = name
        self.interval = interval
        self._pool = gevent.pool.Pool(pool_size)
        self._periodic: list[tuple[Validate, Callable[[], Any]]] = []
        self._schedule: list[tuple[datetime.datetime, int, Callable, tuple, dict, MiniResult]] = []
        self._order = itertools.count()  # breaks ties in the schedule heap: first in, first out
        self._last_check = datetime.datetime.now().replace(second=0, microsecond=0)
        self._stopping = gevent.event.Event()
        self._run_t: gevent.Greenlet | None = None  # the scheduler greenlet while started

    def task(self, validate_func: Validate | None = None) -> Callable:
        """Decorate a function: a task, or with ``validate_func`` (a crontab, say) a
        periodic task run each minute it returns True (the function is returned as is)."""

        def decorate(func: Callable[..., Any]) -> Any:
            if validate_func is None:
                return MiniTask(self, func)
            self._periodic.append((validate_func, func))
            return func

        return decorate

    def periodic_task(self, validate_func: Validate) -> Callable:
        """``task(validate_func)``."""
        return self.task(validate_func)

    def start(self) -> None:
        """Start the scheduler greenlet; return at once."""
        if self._run_t is not None:
            raise RuntimeError(f"MiniHuey {self.name!r} is already started")
        self._stopping.clear()
        self._run_t = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop the scheduler (running tasks finish; scheduled ones wait for a restart)."""
        if self._run_t is None:
            raise RuntimeError(f"MiniHuey {self.name!r} is not started")
        self._stopping.set()
        self._run_t.join()
        self._run_t = None

    def tick(self, now: datetime.datetime) -> None:
        """One scheduler pass at ``now`` (local time): the periodic tasks of a minute not
        checked yet, then every scheduled task that is due."""
        minute = now.replace(second=0, microsecond=0)
        if minute > self._last_check:
            self._last_check = minute
            for validate, func in self._periodic:
                try:
                    due = validate(now)
                except Exception:  # one broken schedule must not stop the others
                    logger.exception("periodic task %s: its schedule failed", func.__name__)
                    continue
                if due:
                    self.spawn(func, (), {}, None)
        while self._schedule and self._schedule[0][0] <= now:
            _, _, func, args, kwargs, result = heapq.heappop(self._schedule)
            self.spawn(func, args, kwargs, result)

    def spawn(self, func: Callable, args: tuple, kwargs: dict, result: MiniResult | None) -> None:
        """Run ``func`` in a greenlet of the pool; its outcome goes to ``result``."""
        logger.info("running %s", func.__name__)
        self._pool.spawn(self._execute, func, args, kwargs, result)

    def add_to_schedule(
        self, when: datetime.datetime, func: Callable, args: tuple, kwargs: dict, result: MiniResult
    ) -> None:
        heapq.heappush(self._schedule, (when, next(self._order), func, args, kwargs, result))

    def _execute(
        self, func: Callable, args: tuple, kwargs: dict, result: MiniResult | None
    ) -> None:
        try:
            value = func(*args, **kwargs)
        except Exception as exc:  # the task's error is its result
            logger.exception("task %s failed", func.__name__)
            if result is not None:
                result.set_exception(exc)
        else:
            if result is not None:
                result.set(value)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick(datetime.datetime.now())
            except Exception:  # logged; the scheduler keeps running
                logger.exception("MiniHuey scheduler pass failed")
            self._stopping.wait(self.interval)
