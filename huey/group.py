"""huey 3's ``group`` and ``chord``: tasks that run side by side, and for a chord one
callback that gets the list of their results once every one is done.

``huey.enqueue(group([...]))`` queues the members and returns a ResultGroup of their
handles; ``huey.enqueue(chord([...], callback))`` (or ``group([...]).then(callback)``)
marks each member's last step with a :class:`ChordConfig` that travels in its message,
and returns a :class:`ChordResult`. How a member's outcome reaches its chord, and how the
callback gets enqueued exactly once, is :mod:`huey.arrival`'s part.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from .result import ResultGroup, TaskResultWrapper
from .task import QueueTask, as_callback
from .wrapper import TaskWrapper

if TYPE_CHECKING:
    from .api import Huey


class ChordConfig(NamedTuple):
    """What a chord member's last step carries (huey 3's ``Task.chord_config``): the
    chord's id and size, the member's place in it, and the callback to run."""

    cid: str
    size: int
    idx: int
    callback: QueueTask


def with_results(callback: QueueTask, values: list[Any]) -> QueueTask:
    """A copy of ``callback`` with the members' results as its last positional argument
    (the callback object itself is left as it was, so it can be enqueued again)."""
    callback = copy.copy(callback)
    args, kwargs = callback.data
    callback.data = ((*args, values), kwargs)
    return callback


class group:  # noqa: N801 - huey 3's name
    """Tasks (``task.s()``, pipelines, chords) to run side by side; enqueued, a
    ResultGroup of their handles. :meth:`then` turns it into a :class:`chord`."""

    def __init__(self, tasks: Iterable[QueueTask | chord]) -> None:
        self.tasks = list(tasks)

    def then(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> chord:
        """The chord of these tasks with ``task`` as its callback."""
        return chord(self.tasks, as_callback(task, args, kwargs))

    def error(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> group:
        """Give every member ``task`` as its error callback (see ``Task.error``)."""
        for member in self.tasks:
            member.error(task, *args, **kwargs)
        return self

    def __repr__(self) -> str:
        return f"<group of {len(self.tasks)} tasks>"


class chord:  # noqa: N801 - huey 3's name
    """Tasks to run side by side, then ``callback`` once with the list of their results
    in member order: a member that failed for good gives an ``Error``, one that never ran
    (revoked, expired, canceled) ``SKIPPED``. A member may be a pipeline (its last step
    counts) or a chord (its callback's pipeline counts)."""

    def __init__(self, tasks: Iterable[QueueTask | chord], callback: TaskWrapper | QueueTask):
        self.tasks = list(tasks)
        self.callback = as_callback(callback)

    def then(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> chord:
        """Run ``task`` with the callback's result (the callback's ``Task.then``)."""
        self.callback.then(task, *args, **kwargs)
        return self

    def error(self, task: TaskWrapper | QueueTask, *args: Any, **kwargs: Any) -> chord:
        """Run ``task`` if the callback fails (the callback's ``Task.error``); a failed
        member does not call it."""
        self.callback.error(task, *args, **kwargs)
        return self

    def __repr__(self) -> str:
        return f"<chord of {len(self.tasks)} tasks, then {self.callback!r}>"


class ChordResult:
    """What enqueueing a chord returns: ``results`` (the members' handles), ``callback``
    (the callback's handle, which :meth:`get` reads) and ``pipeline_results`` (the
    callback's and every task chained after it, None when nothing is chained)."""

    def __init__(
        self,
        results: list[TaskResultWrapper],
        callback_result: TaskResultWrapper,
        pipeline: ResultGroup | None = None,
    ) -> None:
        self.results = ResultGroup(results)
        self.callback = callback_result
        self.pipeline_results = pipeline

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """The callback's result (arguments as ``Result.get``)."""
        return self.callback.get(*args, **kwargs)

    __call__ = get

    def reset(self) -> None:
        """Forget the callback's value read, so the next :meth:`get` reads it again."""
        self.callback.reset()

    def __repr__(self) -> str:
        return f"<ChordResult {self.callback.task!r} of {len(self.results)} tasks>"


def enqueue_group(huey: Huey, tasks: group | chord) -> ResultGroup | ChordResult | Any:
    """``huey.enqueue()`` of a group or a chord. With ``always_eager`` everything runs now:
    a group gives its members' values, a chord its callback's."""
    if huey.always_eager:
        return _run_now(huey, tasks)
    if isinstance(tasks, group):
        return ResultGroup([_as_handle(huey.enqueue(member)) for member in tasks.tasks])
    _check_members(tasks)
    return _enqueue_chord(huey, tasks)


def _as_handle(enqueued: Any) -> Any:
    """A pipeline's list of handles as one ResultGroup (reading it gives every step's)."""
    return ResultGroup(enqueued) if isinstance(enqueued, list) else enqueued


def _check_members(tasks: chord) -> None:
    """Refuse a chord holding a plain group before anything is queued."""
    for member in tasks.tasks:
        if isinstance(member, group):
            raise ValueError("a group cannot be a chord member: give it a callback with .then()")
        if isinstance(member, chord):
            _check_members(member)


def _enqueue_chord(huey: Huey, tasks: chord) -> ChordResult:
    cid, size = uuid.uuid4().hex, len(tasks.tasks)
    results = []
    for idx, member in enumerate(tasks.tasks):
        head = member.callback if isinstance(member, chord) else member
        last = head.chain()[-1]
        last.chord_config = ChordConfig(cid, size, idx, tasks.callback)
        if isinstance(member, chord):
            _enqueue_chord(huey, member)
        else:
            huey.enqueue(head)
        results.append(TaskResultWrapper(huey, last))
    if not size:  # nothing to wait for (huey 3.5.3)
        huey.enqueue(with_results(tasks.callback, []))
    pipeline = [TaskResultWrapper(huey, task) for task in tasks.callback.chain()]
    return ChordResult(results, pipeline[0], ResultGroup(pipeline) if len(pipeline) > 1 else None)


def _run_now(huey: Huey, tasks: group | chord) -> Any:
    """always_eager: the spec's eager contract (run now, return values, raise failures)."""
    values = [_eager_value(huey, member) for member in tasks.tasks]
    if isinstance(tasks, group):
        return values
    return huey.enqueue(with_results(tasks.callback, values))


def _eager_value(huey: Huey, member: QueueTask | group | chord) -> Any:
    """A member's value run now: a pipeline's last step's, a nested chord's callback's."""
    if isinstance(member, group):
        return _run_now(huey, member)
    if isinstance(member, chord):
        value = _run_now(huey, member)
        return value[-1] if member.callback.on_complete is not None else value
    value = huey.enqueue(member)
    return value[-1] if member.on_complete is not None else value
