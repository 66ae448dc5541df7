"""Running one task the way a worker does: revocation check, hooks, the call itself,
result or error storage, retries and the next step of a pipeline."""

from __future__ import annotations

import base64
import copy
import datetime
import enum
import logging
import pickle
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import events, records, revocation
from . import signals as sig
from .arrival import NOT_DONE, Arrival
from .exceptions import (
    CancelExecution,
    DataStorePutException,
    RateLimitExceeded,
    RetryTask,
    TaskException,
    TaskLockedException,
    TaskTimeout,
)
from .result import ErrorResult
from .task import PeriodicQueueTask, QueueTask, as_timedelta, compute_eta
from .timeout import enforced
from .utils import SKIPPED, Error

if TYPE_CHECKING:
    from .api import Huey

logger = logging.getLogger("huey.execution")


class Outcome(enum.Enum):
    FINISHED = "finished"
    FAILED = "failed"
    RETRYING = "retrying"
    REVOKED = "revoked"
    CANCELED = "canceled"
    LOCKED = "locked"
    EXPIRED = "expired"


@dataclass
class Opening:
    """A task's revocation records, read by the storage call that also announced its start
    (the started event goes out only when no record exists). When that call joined a
    batch, ``records`` is filled in as the batch ends."""

    records: list[bytes | None]
    announce: bool  # whether the call carried a started event

    @property
    def has_records(self) -> bool:
        return any(record is not None for record in self.records)

    @property
    def announced(self) -> bool:
        return self.announce and not self.has_records


def open_task(huey: Huey, task: QueueTask, announce: bool = True) -> Opening:
    """Read ``task``'s revocation records and, when none exists and ``announce`` is set,
    emit its started event: one storage call, which may join the caller's batch."""
    started = huey._event(events.EVENT_STARTED, task) if announce else None
    keys = [revocation.instance_key(task.task_id), revocation.class_key(task.name)]
    return Opening(huey.storage.peek_or_emit(keys, started), started is not None)


@dataclass
class Execution:
    """What became of one task: its outcome, value or exception, and run time."""

    outcome: Outcome
    value: Any = None
    exception: BaseException | None = None
    duration: float = 0.0


def execute(
    huey: Huey,
    task: QueueTask,
    now: datetime.datetime | None = None,
    finish: Callable[[], None] | None = None,
    eager: bool = False,
    opening: Opening | None = None,
    as_of: datetime.datetime | None = None,
) -> Execution:
    """Run ``task``; ``now`` is the worker's clock (retry times count from it), ``as_of``
    the time its revocations and expiry are judged at (default ``now``), ``finish`` is
    called in the same storage batch as the final writes (the in-flight ack).

    A failure is recorded, never raised, except in ``eager`` (always_eager) mode, which
    touches no storage and raises the task's exception. ``opening`` is the task's
    :func:`open_task`, when the worker made it ahead (in the previous task's batch).
    """
    finish = finish or (lambda: None)
    arrival = None if eager else Arrival.of(huey, task, finish)
    if arrival is not None:  # a chord member acks once its outcome reached the chord
        finish = arrival.defer
    received = time.perf_counter()  # ``now`` is the worker's clock at this moment
    now = now or huey._now()
    stopped = _begin(huey, task, as_of or now, finish, eager, opening)
    if stopped is not None:
        if arrival is not None:
            arrival.settle(_chord_value(huey, task, stopped))
        return stopped
    huey.signals.send(sig.SIGNAL_EXECUTING, task)
    start = time.perf_counter()
    value: Any = None
    error: BaseException | None = None
    try:
        with enforced(task):
            value = task.execute()
    except _TASK_ERRORS as exc:  # the task's own failure: recorded, never propagated here
        error = exc
    if error is None and task.is_timed_out:  # a thread's run that never checked its time
        value, error = None, TaskTimeout.of(task)
    duration = time.perf_counter() - start
    if error is None and not eager:
        value, error = _storable(huey, task, value)

    if eager:
        result = Execution(
            Outcome.FINISHED if error is None else Outcome.FAILED, value, error, duration
        )
        _send_eager_outcome(huey, task, error)
    else:
        with huey.signals.hold(), huey.storage.batch():
            elapsed = datetime.timedelta(seconds=time.perf_counter() - received)
            if error is None:
                result = _finished(huey, task, value, duration)
            else:
                result = _failed(huey, task, error, duration, now + elapsed)
            finish()
        if arrival is not None:
            arrival.settle(_chord_value(huey, task, result))
    for hook in huey.post_execute_hooks():
        _call_hook(hook, task, value, error)
    if error is not None and eager:
        raise error
    return result


# In a worker only the task itself raises SystemExit or KeyboardInterrupt (the consumer
# handles the signals): a failure like any other, not the end of the worker.
_TASK_ERRORS = (Exception, SystemExit, KeyboardInterrupt)

#: What a task raises to be run again rather than to fail: while a retry is pending it
#: stores no error result and runs no error callback, whatever store_intermediate_errors.
_RETRYING = (RetryTask, RateLimitExceeded, TaskLockedException)


# Results of these types always pickle: no trial pickling on the hot path.
_ALWAYS_PICKLES = frozenset({type(None), bool, int, float, str, bytes})


def _stores_value(huey: Huey, task: QueueTask, value: Any) -> bool:
    """Whether a run's return value goes to the result store; a periodic task's never
    does (as in huey 3: nobody holds a handle to read it, so it would pile up)."""
    return (
        huey.result_store
        and (value is not None or huey.store_none)
        and not isinstance(task, PeriodicQueueTask)
    )


def _storable(huey: Huey, task: QueueTask, value: Any) -> tuple[Any, BaseException | None]:
    """``(value, None)`` when the value can be stored (or need not be); else the task's
    failure, so a value that does not pickle fails the task once instead of escaping
    before the ack and running the task again and again."""
    stored = _stores_value(huey, task, value)
    if (not stored and task.on_complete is None) or type(value) in _ALWAYS_PICKLES:
        return value, None
    try:
        huey.serializer.pickle(value)
    except Exception as exc:  # pickling can raise almost anything
        message = f"the result of {task} cannot be pickled: {type(exc).__name__}: {exc}"
        return None, DataStorePutException(message)
    return value, None


def _begin(
    huey: Huey,
    task: QueueTask,
    as_of: datetime.datetime,
    finish: Callable[[], None],
    eager: bool,
    opening: Opening | None,
) -> Execution | None:
    """Check revocations and expiry at ``as_of``, run the pre-execute hooks, announce the
    start; the Execution when the task ends here (revoked, expired, canceled by a hook),
    None when it is to run.

    Without hooks to run in between, the revocation check and the ``started`` event
    share one storage round trip; the event is sent only if no revocation record exists.
    """
    hooks = huey.pre_execute_hooks()
    announced = False
    if not eager:
        if opening is None:
            opening = open_task(huey, task, announce=not hooks)
        announced = opening.announced
        if opening.has_records and huey.consume_revocation(task, _on_clock(huey, as_of)):
            logger.info("%s revoked, discarded", task)
            return _stop(huey, task, Outcome.REVOKED, finish, eager)
    if task.is_expired(as_of):
        logger.info("%s expired at %s, discarded", task, task.expires)
        return _stop(huey, task, Outcome.EXPIRED, finish, eager)
    try:
        for hook in hooks:
            _call_hook(hook, task)
    except CancelExecution:
        logger.info("%s canceled by a pre-execute hook", task)
        return _stop(huey, task, Outcome.CANCELED, finish, eager)
    if not eager and not announced:
        huey.emit(events.EVENT_STARTED, task)
    return None


def _on_clock(huey: Huey, when: datetime.datetime) -> datetime.datetime:
    """``when``, a time on the Huey's clock, made aware when that clock is UTC (revocation
    records read a naive time as local time)."""
    if huey.utc and when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when


#: The event and signal of each way a task ends without running.
_STOPPED = {
    Outcome.REVOKED: (events.EVENT_REVOKED, sig.SIGNAL_REVOKED),
    Outcome.EXPIRED: (events.EVENT_EXPIRED, sig.SIGNAL_EXPIRED),
    Outcome.CANCELED: (events.EVENT_CANCELED, sig.SIGNAL_CANCELED),
}


def _stop(
    huey: Huey, task: QueueTask, outcome: Outcome, finish: Callable[[], None], eager: bool
) -> Execution:
    """End a task that does not run: its event and the ack in one storage batch, then
    its signal."""
    event, signal = _STOPPED[outcome]
    if not eager:
        with huey.signals.hold(), huey.storage.batch():
            huey.emit(event, task)
            finish()
    huey.signals.send(signal, task)
    return Execution(outcome)


def _chord_value(huey: Huey, task: QueueTask, execution: Execution) -> Any:
    """What a run gives the chord its pipeline ends in (huey 3): the last step's value, an
    Error for a failure, SKIPPED when it never ran; NOT_DONE when the member goes on."""
    outcome = execution.outcome
    if outcome is Outcome.RETRYING:
        return NOT_DONE
    if outcome is Outcome.FINISHED:
        return NOT_DONE if task.on_complete is not None else execution.value
    if outcome is Outcome.FAILED or (outcome is Outcome.CANCELED and execution.exception):
        return Error(huey.build_error_result(task, execution.exception))
    return SKIPPED  # revoked, expired, canceled before it ran, or its lock was held


def _call_hook(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except CancelExecution:
        raise
    except Exception:  # a broken hook is logged and does not stop the task
        logger.exception("hook %r failed", getattr(hook, "__name__", hook))


def _finished(huey: Huey, task: QueueTask, value: Any, duration: float) -> Execution:
    """Store the value, announce it, and enqueue the pipeline's next step."""
    logger.info("%s finished in %.3fs", task, duration)
    if _stores_value(huey, task, value):
        huey.store_result(task.task_id, value)
    huey.emit(events.EVENT_FINISHED, task, duration=duration)
    huey.signals.send(sig.SIGNAL_COMPLETE, task)
    if task.on_complete is not None:
        child = task.on_complete
        child.with_parent_result(value)
        huey.enqueue(child)
    return Execution(Outcome.FINISHED, value, None, duration)


def _failed(
    huey: Huey, task: QueueTask, error: BaseException, duration: float, now: datetime.datetime
) -> Execution:
    """Act on a run that raised, as huey 3 does: its signal, then (unless it asked for a
    retry) the error result and the error callback, and a retry while retries are left.
    A lock not acquired is never an error result (the specification)."""
    outcome, retry_at = _react(huey, task, error, now)
    final = task.retries <= 0 or not _pickles(huey, task)
    metadata = huey.build_error_result(task, error)
    if _is_error(error, outcome):
        logger.exception("%s failed after %.3fs", task, duration, exc_info=error)
        huey.record_error({**metadata, "payload": _payload(huey, task)})
        huey.emit(
            events.EVENT_ERROR_TASK,
            task,
            duration=duration,
            error=metadata.get("error"),
            traceback=metadata.get("traceback"),
        )
    surface = final or (huey.store_intermediate_errors and not isinstance(error, _RETRYING))
    if surface and not isinstance(error, TaskLockedException):
        _store_error(huey, task, ErrorResult(metadata), final)
        if task.on_error is not None:
            _enqueue_on_error(huey, task.on_error, error, metadata)
    if not final:
        _requeue(huey, task, now, retry_at)
        return Execution(Outcome.RETRYING, None, error, duration)
    if outcome is Outcome.RETRYING:  # asked for a retry that cannot be made
        outcome = Outcome.FAILED
    return Execution(outcome, None, error, duration)


def _react(
    huey: Huey, task: QueueTask, error: BaseException, now: datetime.datetime
) -> tuple[Outcome, datetime.datetime | None]:
    """Send the signal of the way the run ended and set its retries: a retry request
    keeps them, a cancel decides them. The outcome should it end here, and the time a
    retry is asked for (None: the task's own retry delay)."""
    if isinstance(error, CancelExecution):
        logger.info("%s canceled itself", task)
        huey.emit(events.EVENT_CANCELED, task)
        huey.signals.send(sig.SIGNAL_CANCELED, task)
        retry = error.retry if error.retry is not None else task.retries > 0
        task.retries = max(task.retries, 1) if retry else 0
        return Outcome.CANCELED, None
    if isinstance(error, RetryTask):
        logger.info("%s asked to be retried", task)
        task.retries += 1  # the retry uses none of its own
        if error.eta is not None:
            return Outcome.RETRYING, compute_eta(error.eta, convert_utc=huey.utc)
        return Outcome.RETRYING, None if error.delay is None else now + as_timedelta(error.delay)
    if isinstance(error, RateLimitExceeded):
        logger.info("%s rate-limited: %s", task, error)
        huey.signals.send(sig.SIGNAL_RATE_LIMITED, task)
        if not (error.retry or task.retries):
            return Outcome.FAILED, None
        task.retries += 1 if error.retry else 0
        return Outcome.RETRYING, now + as_timedelta(task.retry_delay or error.delay)
    if isinstance(error, TaskLockedException):
        logger.info("%s skipped: %s", task, error)
        huey.emit(events.EVENT_LOCKED, task, error=str(error))
        huey.signals.send(sig.SIGNAL_LOCKED, task)
        return Outcome.LOCKED, None
    if isinstance(error, TaskTimeout):
        huey.signals.send(sig.SIGNAL_TIMEOUT, task)  # huey 3 sends it without the exception
    else:
        huey.signals.send(sig.SIGNAL_ERROR, task, error)
    return Outcome.FAILED, None


def _is_error(error: BaseException, outcome: Outcome) -> bool:
    """A failure for the error store and event: not a cancel, a retry request, a lock not
    acquired or a rate limit that postponed the run (its final refusal is one)."""
    if isinstance(error, RateLimitExceeded):
        return outcome is Outcome.FAILED
    return not isinstance(error, (CancelExecution, RetryTask, TaskLockedException))


def _store_error(huey: Huey, task: QueueTask, error: ErrorResult, final: bool) -> None:
    """The error result, under the task's id and, once it failed for good, under the ids
    of the pipeline steps that will never run."""
    if not (huey.store_errors and huey.result_store):
        return
    huey.store_result(task.task_id, error)
    step = task.on_complete if final else None
    while step is not None:
        huey.store_result(step.task_id, error)
        step = step.on_complete


def _enqueue_on_error(
    huey: Huey, callback: QueueTask, error: BaseException, metadata: dict[str, Any]
) -> None:
    """huey 3's ``.error()``: a copy of the callback (the task keeps its own for a retry)
    gets the exception first, or a TaskException carrying the error's metadata when the
    exception does not survive pickling."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # (un)pickling can fail in many ways; the callback still runs
        error = TaskException(metadata)
    callback = copy.copy(callback)
    callback.with_parent_result(error)
    huey.enqueue(callback)


def _pickles(huey: Huey, task: QueueTask) -> bool:
    """False, logged, when the run left arguments that no longer pickle: retried, such a
    task would fail at every enqueue, so it fails for good here."""
    try:
        huey.serialize_task(task)
    except Exception as exc:  # pickling can raise almost anything
        logger.error("%s cannot be retried, its message no longer pickles: %s", task, exc)
        return False
    return True


def _requeue(
    huey: Huey, task: QueueTask, now: datetime.datetime, retry_at: datetime.datetime | None
) -> None:
    """Put ``task`` back, using up a retry: at ``retry_at`` when given, else after its
    retry delay (which its ``retry_backoff`` then multiplies), else at once."""
    task.retries -= 1
    if retry_at is not None:
        task.execute_time = retry_at
    elif task.retry_delay:
        task.execute_time = now + as_timedelta(task.retry_delay)
        if task.retry_backoff:
            task.retry_delay *= task.retry_backoff
    else:
        task.execute_time = None
    delay = (task.execute_time - now).total_seconds() if task.execute_time else 0.0
    logger.info("%s will be retried (%d retries left)", task, task.retries)
    huey.emit(events.EVENT_RETRYING, task, delay=delay)
    huey.signals.send(sig.SIGNAL_RETRYING, task)
    scheduled = huey._put(task)  # straight back: no result handle, no immediate-mode run
    huey.signals.send(sig.SIGNAL_SCHEDULED if scheduled else sig.SIGNAL_ENQUEUED, task)


def _send_eager_outcome(huey: Huey, task: QueueTask, error: BaseException | None) -> None:
    """always_eager mode records nothing, but huey 3's complete/error signals still go out."""
    if error is None:
        huey.signals.send(sig.SIGNAL_COMPLETE, task)
    else:
        huey.signals.send(sig.SIGNAL_ERROR, task, error)


def _payload(huey: Huey, task: QueueTask) -> str | None:
    """The failed call's message (base64), so it can be retried as it was; None when its
    arguments, changed by the run, no longer pickle."""
    try:
        return base64.b64encode(huey.serialize_task(task)).decode()
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        logger.warning("%s: its message is not kept for a retry: %s", task, exc)
        return None


def error_metadata(task: QueueTask, error: BaseException) -> dict[str, Any]:
    """What a failure records: huey 3's error, traceback, retries left and task id, and
    the task's name, execute time and the time of the failure. A TaskException (a task
    that failed on another's error result) keeps the original error."""
    reported = isinstance(error, TaskException) and error.metadata.get("error")
    return {
        "task_id": task.task_id,
        "task": task.name,
        "error": reported or repr(error),
        "traceback": "".join(traceback.format_exception(error)),
        "retries": task.retries,
        "execute_time": task.execute_time.isoformat() if task.execute_time else None,
        "time": records.stamp(),
    }
