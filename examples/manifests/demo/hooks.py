"""Hooks a manifest attaches to every task of an instance (``hooks:`` in the YAML).

The signatures are huey's: ``pre_execute(task)`` runs before a task and may raise
``CancelExecution``; ``post_execute(task, task_value, exc)`` runs after it. Both log
to the consumer's log, which ``hueyctl logs INSTANCE`` shows.
"""

from __future__ import annotations

import logging
import time

from huey import QueueTask

log = logging.getLogger(__name__)

# Start times by task id, per process: a task's two hooks run in the worker that
# executes it, so the pair always meets.
_started: dict[str, float] = {}


def audit(task: QueueTask) -> None:
    """pre_execute: note which task starts, and when."""
    _started[task.task_id] = time.monotonic()
    log.info("start %s %s", task.name, task.task_id)


def record_outcome(task: QueueTask, task_value: object, exc: BaseException | None) -> None:
    """post_execute: log how long the task took and whether it failed."""
    started = _started.pop(task.task_id, None)
    took = f"{time.monotonic() - started:.3f}s" if started is not None else "?"
    outcome = f"failed: {exc!r}" if exc is not None else "ok"
    log.info("done %s %s in %s: %s", task.name, task.task_id, took, outcome)
