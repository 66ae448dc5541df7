"""huey 3's ``group`` and ``chord``: run tasks side by side, then one callback with all
their results once every one finished or failed for good.

Each member of a chord gets an arrival task as its success and error callback (at the
end of its pipeline). An arrival stores the member's outcome in the member's own slot key
of the storage's key/value store with ``put_if_empty`` (atomic on every backend, and a
redelivered arrival changes nothing), then reads every slot. Whoever sees them all filled
pops the stored callback; ``pop_data`` hands it to exactly one of them, so the callback is
enqueued once, however many workers finish members at the same moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError
from .result import ResultGroup, TaskResultWrapper
from .task import QueueTask, TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

CHORD_PREFIX = "huey.chord."
ARRIVAL_TASK = "huey.chord.arrival"


class ChordArrival(QueueTask):
    """The arrival task's base: the member's outcome is appended to its arguments as is
    (a pipeline step would unpack a tuple or dict result)."""

    def with_parent_result(self, value: Any) -> None:
        args, kwargs = self.data
        self.data = ((*args, value), kwargs)


def _slots(chord_id: str, size: int) -> list[str]:
    return [f"{CHORD_PREFIX}{chord_id}.{index}" for index in range(size)]


def _callback_key(chord_id: str, failed: bool) -> str:
    return f"{CHORD_PREFIX}{chord_id}.{'error' if failed else 'then'}"


def arrival_task(huey: Huey) -> TaskWrapper:
    """Register the task that counts a chord member in; every Huey has it, so any
    consumer of the instance can run it."""

    def arrive(chord_id: str, index: int, size: int, ok: bool, outcome: Any) -> None:
        storage = huey.storage
        slots = _slots(chord_id, size)
        storage.put_if_empty(slots[index], huey.serializer.dumps((ok, outcome)))
        if None in storage.peek_or_emit(slots, None):
            return
        then = storage.pop_data(_callback_key(chord_id, False))
        if then is None:  # another arrival saw every slot filled first and fired it
            return
        on_error = storage.pop_data(_callback_key(chord_id, True))
        outcomes = [huey.serializer.loads(storage.pop_data(slot)) for slot in slots]
        failed = not all(ok for ok, _ in outcomes)
        callback = huey.deserialize_task(on_error if failed and on_error else then)
        callback.with_parent_result([value for _, value in outcomes])
        huey.enqueue(callback)

    arrive.__module__ = __name__
    return TaskWrapper(
        huey, arrive, retries=3, retry_delay=1, name=ARRIVAL_TASK, task_base=ChordArrival
    )


def _as_task(task: TaskWrapper | QueueTask, args: tuple, kwargs: dict) -> QueueTask:
    return task.s(*args, **kwargs) if isinstance(task, TaskWrapper) else task


class ChordResult(TaskResultWrapper):
    """The handle of an enqueued chord: reads the callback's result (or the error
    callback's, which shares its id); ``group`` holds the members' handles."""

    def __init__(self, huey: Huey, callback: QueueTask, group: ResultGroup) -> None:
        super().__init__(huey, callback)
        self.group = group

    def __repr__(self) -> str:
        return f"<ChordResult {self.task!r} of {len(self.group)} tasks>"


class Group:
    """Tasks to run side by side; with :meth:`then` a chord. :meth:`enqueue` (or calling
    it) queues them: a ResultGroup of the members' handles, or a ChordResult."""

    def __init__(self, huey: Huey, tasks: Iterable[QueueTask | Group]) -> None:
        self.huey = huey
        self.tasks = list(tasks)
        self.callback: QueueTask | None = None
        self.on_error: QueueTask | None = None

    def then(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> Group:
        """Run ``task`` once every member is done, with the list of their results (a
        failed member's exception in its place) as its first argument."""
        self.callback = _as_task(task, args, kwargs)
        return self

    def error(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> Group:
        """Run ``task`` instead of the :meth:`then` callback when a member failed for good,
        with the same list; it shares the callback's id, so the ChordResult reads it."""
        self.on_error = _as_task(task, args, kwargs)
        return self

    def enqueue(self) -> ResultGroup | ChordResult | Any:
        """Queue every member (and nested chords); see the class docstring. With
        ``always_eager`` everything runs now: the members' values, or the callback's."""
        if self.callback is None:
            if self.on_error is not None:
                raise ConfigurationError("a group's error() callback needs a then() callback")
            return ResultGroup([self._enqueue_member(member) for member in self.tasks])
        return self._enqueue_chord(self.callback)

    __call__ = enqueue

    def _enqueue_member(self, member: QueueTask | Group, end: QueueTask | None = None) -> Any:
        """Queue ``member``; the handle (or eager value) of ``end``, its pipeline's last
        step unless given (a chord's arrival steps are not the member's)."""
        if isinstance(member, Group):
            return member.enqueue()
        end = end or member.chain()[-1]
        handle = self.huey.enqueue(member)  # a pipeline's: one per step
        return handle[member.chain().index(end)] if isinstance(handle, list) else handle

    def _enqueue_chord(self, callback: QueueTask) -> ChordResult | Any:
        size = len(self.tasks)
        if self.huey.always_eager:  # the spec's eager contract: run now, return the value
            callback.with_parent_result([self._enqueue_member(member) for member in self.tasks])
            return self.huey.enqueue(callback)
        if not size:  # nothing to wait for
            callback.with_parent_result([])
            self.huey.enqueue(callback)
            return ChordResult(self.huey, callback, ResultGroup([]))
        storage = self.huey.storage
        chord_id = uuid.uuid4().hex
        storage.put_data(_callback_key(chord_id, False), self.huey.serialize_task(callback))
        if self.on_error is not None:
            self.on_error.task_id = callback.task_id
            storage.put_data(_callback_key(chord_id, True), self.huey.serialize_task(self.on_error))
        ends = [None if isinstance(m, Group) else m.chain()[-1] for m in self.tasks]
        for index, member in enumerate(self.tasks):
            for last in _last_tasks(member):
                _attach(self.huey, last, chord_id, index, size)
        handles = [self._enqueue_member(m, end) for m, end in zip(self.tasks, ends, strict=True)]
        return ChordResult(self.huey, callback, ResultGroup(handles))


def _last_tasks(member: QueueTask | Group) -> list[QueueTask]:
    """The tasks whose end means ``member`` is done: a pipeline's, or a nested chord's
    callbacks (only one of them runs)."""
    if isinstance(member, QueueTask):
        return [member]
    if member.callback is None:
        raise ConfigurationError("a group inside a chord needs a then() callback")
    return [task for task in (member.callback, member.on_error) if task is not None]


def _attach(huey: Huey, head: QueueTask, chord_id: str, index: int, size: int) -> None:
    """Make every step of ``head``'s pipeline report a failure, and its end its result."""
    arrival = huey.task_class(ARRIVAL_TASK)
    for step in head.chain():
        if step.on_error is not None:
            raise ConfigurationError("a chord member cannot have its own error() callback")
        step.on_error = arrival(((chord_id, index, size, False), {}))
    head.then(arrival(((chord_id, index, size, True), {})))
