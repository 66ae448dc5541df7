"""A chord member's side of a chord: its outcome reaches the chord, and the member that
completes the chord enqueues the callback, exactly once.

Each member's outcome goes to its own slot key with ``put_if_empty`` (atomic on every
backend; a member run again changes nothing). The arrival that finds every slot filled
claims the chord by writing its task id to the chord's claim key, again with
``put_if_empty``, and enqueues the callback in the same storage batch as its own ack;
then it removes the slots and the claim. A worker killed after claiming leaves its member
unacknowledged: the member is delivered again, finds its own id in the claim and enqueues
the callback then. Since the enqueue and the ack commit together, that happens once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .group import with_results

if TYPE_CHECKING:
    from .api import Huey
    from .task import QueueTask

CHORD_PREFIX = "huey.chord."

#: A member's run that does not end the member (a retry, or the next pipeline step).
NOT_DONE: Any = object()


def chord_of(task: QueueTask) -> Any:
    """The ChordConfig of the chord ``task``'s pipeline reports to, or None."""
    while task.on_complete is not None:
        task = task.on_complete
    return task.chord_config


class Arrival:
    """Stands in for a chord member's ack in its final storage batch: the ack waits for
    :meth:`settle`, which first reports the member's outcome to its chord."""

    def __init__(self, huey: Huey, task: QueueTask, ack: Callable[[], None]) -> None:
        self.huey = huey
        self.task = task
        self.ack = ack
        self.config = chord_of(task)

    @classmethod
    def of(cls, huey: Huey, task: QueueTask, ack: Callable[[], None]) -> Arrival | None:
        """The Arrival for ``task`` when its pipeline ends in a chord member, else None."""
        return None if chord_of(task) is None else cls(huey, task, ack)

    def defer(self) -> None:
        """Called where the ack would be; :meth:`settle` acks instead."""

    def settle(self, value: Any) -> None:
        """Report ``value`` (the member's result, ``Error`` or ``SKIPPED``; NOT_DONE when
        the member goes on), then ack, with the callback when this completed the chord."""
        callback = None if value is NOT_DONE else self._arrive(value)
        huey = self.huey
        with huey.signals.hold(), huey.storage.batch():
            if callback is not None:
                huey.enqueue(callback)
            self.ack()
        if callback is not None:
            for key in (*self._slots(), self._claim()):
                huey.storage.pop_data(key)

    def _arrive(self, value: Any) -> QueueTask | None:
        """Fill this member's slot; the callback with every result when this arrival
        completes the chord and holds its claim, else None."""
        storage, serializer = self.huey.storage, self.huey.serializer
        slots, claim, me = self._slots(), self._claim(), self.task.task_id.encode()
        storage.put_if_empty(slots[self.config.idx], serializer.dumps(value))
        if None in storage.peek_or_emit(slots, None):
            return None
        if not storage.put_if_empty(claim, me) and storage.peek_data(claim) != me:
            return None  # another member's worker enqueues the callback
        stored = storage.peek_or_emit(slots, None)
        if None in stored:  # claimed after the callback went and its slots were cleared
            storage.pop_data(claim)
            return None
        return with_results(self.config.callback, [serializer.loads(v) for v in stored])

    def _slots(self) -> list[str]:
        cid, size = self.config.cid, self.config.size
        return [f"{CHORD_PREFIX}{cid}.{idx}" for idx in range(size)]

    def _claim(self) -> str:
        return f"{CHORD_PREFIX}{self.config.cid}"
