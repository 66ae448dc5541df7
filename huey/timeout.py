"""Task timeouts (huey 3's ``timeout=``): a run's deadline, enforced by an alarm where a
signal can interrupt the task; elsewhere by the task's check_timeout() calls and the
check execution makes after the run."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from .exceptions import TaskTimeout
from .task import QueueTask


@contextlib.contextmanager
def enforced(task: QueueTask) -> Iterator[None]:
    """Run the body under ``task``'s timeout: its deadline is set, and in a process's main
    thread (process workers) SIGALRM interrupts the task with TaskTimeout when it passes."""
    if not task.timeout:  # None, or huey 3's 0: no timeout
        yield
        return
    task._deadline = time.monotonic() + task.timeout
    if threading.current_thread() is not threading.main_thread():
        yield  # threads and greenlets: check_timeout() and the check after the run
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise TaskTimeout.of(task)

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, max(task.timeout, 1e-6))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
