"""In-process signals with huey 3's names: receivers registered with ``@huey.signal()``
are called as ``receiver(signal, task, *extra)`` in the process where the event happens.

They sit beside the storage events of :mod:`huey.events` (which reach other processes);
a receiver that raises is logged and never affects the task.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger("huey.signals")

SIGNAL_CANCELED = "canceled"
SIGNAL_COMPLETE = "complete"
SIGNAL_ERROR = "error"
SIGNAL_EXECUTING = "executing"
SIGNAL_EXPIRED = "expired"
SIGNAL_LOCKED = "locked"
SIGNAL_RETRYING = "retrying"
SIGNAL_REVOKED = "revoked"
SIGNAL_SCHEDULED = "scheduled"
SIGNAL_INTERRUPTED = "interrupted"
SIGNAL_ENQUEUED = "enqueued"
SIGNAL_RATE_LIMITED = "rate-limited"
SIGNAL_TIMEOUT = "timeout"

Receiver = Callable[..., Any]


class Signals:
    """Receivers by signal; a receiver connected with no signal names hears every signal."""

    def __init__(self) -> None:
        self._receivers: dict[str | None, list[Receiver]] = {}
        self._local = threading.local()  # this thread's held signals, while hold() is open

    def connect(self, receiver: Receiver, *signals: str) -> None:
        for name in signals or (None,):
            self._receivers.setdefault(name, []).append(receiver)

    def disconnect(self, receiver: Receiver, *signals: str) -> None:
        """Remove ``receiver`` from the given signals, or from all when none are named."""
        names = signals or tuple(self._receivers)
        for name in names:
            receivers = self._receivers.get(name, [])
            if receiver in receivers:
                receivers.remove(receiver)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep this thread's signals until the block ends, then send them in order: a
        worker holds them while its storage batch is open, so receivers may read storage
        and see what the batch wrote."""
        if not self._receivers or getattr(self._local, "held", None) is not None:
            yield  # nobody listens, or an outer hold sends them
            return
        self._local.held = held = []
        try:
            yield
        finally:
            self._local.held = None
        for args in held:
            self.send(*args)

    def send(self, signal: str, task: Any, *extra: Any) -> None:
        """Call every receiver of ``signal`` (and the catch-all ones) in connection order."""
        if not self._receivers:
            return
        held = getattr(self._local, "held", None)
        if held is not None:
            held.append((signal, task, *extra))
            return
        for receiver in [*self._receivers.get(signal, ()), *self._receivers.get(None, ())]:
            try:
                receiver(signal, task, *extra)
            except Exception:  # a broken receiver is logged and does not stop the task
                logger.exception("signal receiver %r failed", getattr(receiver, "__name__", ""))
