"""How workers run: threads, forked processes or gevent greenlets, behind one interface."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, MutableSequence
from typing import Any, Protocol

from ..exceptions import ConfigurationError


class Handle(Protocol):
    def is_alive(self) -> bool: ...
    def join(self, timeout: float | None = None) -> None: ...


class Environment:
    """Makes stop flags and starts workers of one kind."""

    name = "thread"

    def event(self) -> Any:
        return threading.Event()

    def spawn(self, target: Callable[[], None], name: str) -> Handle:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def kill(self, handle: Handle) -> None:
        """Threads cannot be killed; an abandoned one dies with the process."""

    def cells(self, size: int) -> MutableSequence[float]:
        """``size`` zeroed numbers a worker counts in and the consumer reads."""
        return [0.0] * size


class ProcessEnvironment(Environment):
    name = "process"

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("fork")

    def event(self) -> Any:
        return self.context.Event()

    def spawn(self, target: Callable[[], None], name: str) -> Handle:
        process = self.context.Process(target=_in_child, args=(target,), name=name, daemon=True)
        process.start()
        return process

    def kill(self, handle: Handle) -> None:
        handle.kill()  # type: ignore[attr-defined]
        handle.join(5)

    def cells(self, size: int) -> MutableSequence[float]:
        return self.context.RawArray("d", size)  # shared with the forked worker


#: How often a worker process checks that its consumer is still alive.
PARENT_CHECK_INTERVAL = 0.5


def _in_child(target: Callable[[], None]) -> None:
    # The parent handles INT/TERM/HUP and tells workers to stop through their flag.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    target()


def _exit_with_parent(parent: int) -> None:
    """End this worker when its consumer dies (SIGKILL, OOM): the consumer heartbeats
    for it, so an orphan would keep taking tasks that others then requeue as lost."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    os._exit(1)


class GreenletEnvironment(Environment):
    name = "greenlet"

    def __init__(self) -> None:
        try:
            import gevent
            import gevent.event
        except ImportError:
            raise ConfigurationError(
                "greenlet workers need gevent: pip install 'huey-ng[gevent]'"
            ) from None
        self.gevent = gevent

    def event(self) -> Any:
        return self.gevent.event.Event()

    def spawn(self, target: Callable[[], None], name: str) -> Handle:
        return _Greenlet(self.gevent.spawn(target))

    def kill(self, handle: Handle) -> None:
        handle.greenlet.kill(block=False)  # type: ignore[attr-defined]


class _Greenlet:
    def __init__(self, greenlet: Any) -> None:
        self.greenlet = greenlet

    def is_alive(self) -> bool:
        return not self.greenlet.dead

    def join(self, timeout: float | None = None) -> None:
        self.greenlet.join(timeout)


def environment(worker_type: str) -> Environment:
    """The environment for ``worker_type`` (thread, process or greenlet)."""
    kinds = {"thread": Environment, "process": ProcessEnvironment, "greenlet": GreenletEnvironment}
    if worker_type not in kinds:
        raise ConfigurationError(
            f"unknown worker type {worker_type!r}; choose one of {', '.join(kinds)}"
        )
    return kinds[worker_type]()
