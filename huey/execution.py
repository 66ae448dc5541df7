"""Running one task the way a worker does: revocation check, hooks, the call itself,
result or error storage, retries and the next step of a pipeline."""

from __future__ import annotations

import base64
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
from .task import PeriodicQueueTask, QueueTask, compute_eta, utcnow
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
    requeued: bool = False  # queued again to run later (a retry, a canceled run retried)


def execute(
    huey: Huey,
    task: QueueTask,
    now: datetime.datetime | None = None,
    finish: Callable[[], None] | None = None,
    eager: bool = False,
    raise_errors: bool = False,
    opening: Opening | None = None,
) -> Execution:
    """Run ``task``; ``now`` is the consumer's clock (for retry times), ``finish`` is
    called in the same storage batch as the final writes (the in-flight ack).

    ``eager`` (always_eager mode) touches no storage and raises the task's exception;
    ``raise_errors`` re-raises it after everything is recorded. ``opening`` is the
    task's :func:`open_task`, when the worker made it ahead (in the previous task's batch).
    """
    finish = finish or (lambda: None)
    arrival = None if eager else Arrival.of(huey, task, finish)
    if arrival is not None:  # a chord member acks once its outcome reached the chord
        finish = arrival.defer
    received = time.perf_counter()  # ``now`` is the consumer's clock at this moment
    stopped = _begin(huey, task, now or huey._now(), finish, eager, opening)
    if stopped is not None:
        if arrival is not None:
            arrival.settle(_chord_value(task, stopped))
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
            result = _record(huey, task, value, error, duration, (now or utcnow()) + elapsed)
            finish()
        if arrival is not None:
            arrival.settle(_chord_value(task, result))
    for hook in huey.post_execute_hooks():
        _call_hook(hook, task, value, error)
    if error is not None and (eager or (raise_errors and not _is_request(error, result))):
        raise error  # a retry or cancel request was acted on: not an error
    return result


def _is_request(error: Exception, result: Execution) -> bool:
    """True for what a task raises to steer its own run (retry, cancel, a rate limit that
    postponed it) rather than to fail."""
    if isinstance(error, RateLimitExceeded):
        return result.outcome is Outcome.RETRYING
    return isinstance(error, (RetryTask, CancelExecution))


# In a worker only the task itself raises SystemExit or KeyboardInterrupt (the consumer
# handles the signals): a failure like any other, not the end of the worker.
_TASK_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


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
    now: datetime.datetime,
    finish: Callable[[], None],
    eager: bool,
    opening: Opening | None,
) -> Execution | None:
    """Check revocations, run the pre-execute hooks, announce the start; the Execution
    when the task ends here (revoked, canceled), None when it is to run.

    Without hooks to run in between, the revocation check and the ``started`` event
    share one storage round trip; the event is sent only if no revocation record exists.
    """
    hooks = huey.pre_execute_hooks()
    announced = False
    if not eager:
        if opening is None:
            opening = open_task(huey, task, announce=not hooks)
        announced = opening.announced
        if opening.has_records and huey.consume_revocation(task):
            logger.info("%s revoked, discarded", task)
            return _stop(huey, task, Outcome.REVOKED, finish, eager)
    if task.is_expired(now):
        logger.info("%s expired at %s, discarded", task, task.expires)
        return _stop(huey, task, Outcome.EXPIRED, finish, eager)
    try:
        for hook in hooks:
            _call_hook(hook, task)
    except CancelExecution as exc:
        logger.info("%s canceled by a pre-execute hook", task)
        retry_at = now if _cancel_retries(task, exc) else None
        return _stop(huey, task, Outcome.CANCELED, finish, eager, retry_at)
    if not eager and not announced:
        huey.emit(events.EVENT_STARTED, task)
    return None


#: The event and signal of each way a task ends without running.
_STOPPED = {
    Outcome.REVOKED: (events.EVENT_REVOKED, sig.SIGNAL_REVOKED),
    Outcome.EXPIRED: (events.EVENT_EXPIRED, sig.SIGNAL_EXPIRED),
    Outcome.CANCELED: (events.EVENT_CANCELED, sig.SIGNAL_CANCELED),
}


def _stop(
    huey: Huey,
    task: QueueTask,
    outcome: Outcome,
    finish: Callable[[], None],
    eager: bool,
    retry_at: datetime.datetime | None = None,
) -> Execution:
    """End a task that does not run: its event, a retry when ``retry_at`` is given, and
    the ack in one storage batch, then its signal."""
    event, signal = _STOPPED[outcome]
    if not eager:
        with huey.signals.hold(), huey.storage.batch():
            huey.emit(event, task)
            if retry_at is not None:
                _retry(huey, task, retry_at, None if task.retries else RetryTask())
            finish()
    huey.signals.send(signal, task)
    return Execution(outcome, requeued=retry_at is not None)


def _chord_value(task: QueueTask, execution: Execution) -> Any:
    """What a run gives the chord its pipeline ends in (huey 3): the last step's value, an
    Error for a failure, SKIPPED when it never ran; NOT_DONE when the member goes on."""
    outcome = execution.outcome
    if execution.requeued or outcome is Outcome.RETRYING:
        return NOT_DONE
    if outcome is Outcome.FINISHED:
        return NOT_DONE if task.on_complete is not None else execution.value
    if outcome is Outcome.FAILED or (outcome is Outcome.CANCELED and execution.exception):
        return Error(_error_metadata(task, execution.exception))
    return SKIPPED  # revoked, expired, canceled before it ran, or its lock was held


def _cancel_retries(task: QueueTask, cancel: CancelExecution) -> bool:
    return cancel.retry if cancel.retry is not None else task.retries > 0


def _call_hook(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except CancelExecution:
        raise
    except Exception:  # a broken hook is logged and does not stop the task
        logger.exception("hook %r failed", getattr(hook, "__name__", hook))


def _record(
    huey: Huey,
    task: QueueTask,
    value: Any,
    error: BaseException | None,
    duration: float,
    now: datetime.datetime,
) -> Execution:
    """Store what happened (result, error, retry, pipeline child) and emit the event."""
    if error is None:
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

    if isinstance(error, CancelExecution):
        logger.info("%s canceled itself", task)
        huey.emit(events.EVENT_CANCELED, task)
        huey.signals.send(sig.SIGNAL_CANCELED, task)
        retried = _cancel_retries(task, error) and _retry(
            huey, task, now, None if task.retries else RetryTask()
        )
        return Execution(Outcome.CANCELED, None, error, duration, requeued=retried)
    if isinstance(error, RetryTask):
        logger.info("%s asked to be retried", task)
        _retry(huey, task, now, error)
        return Execution(Outcome.RETRYING, None, error, duration)
    if isinstance(error, RateLimitExceeded):
        logger.info("%s rate-limited on %r", task, error.key)
        huey.signals.send(sig.SIGNAL_RATE_LIMITED, task)
        if error.retry or task.retries > 0:
            delay = task.retry_delay or error.delay  # the next window unless a delay is set
            if not error.retry:  # an ordinary retry: uses one, after the task's retry_delay
                task.retries, delay = task.retries - 1, task.retry_delay
            _retry(huey, task, now, RetryTask(delay=delay))
            return Execution(Outcome.RETRYING, None, error, duration)
    locked = isinstance(error, TaskLockedException)
    if locked:
        logger.info("%s skipped: %s", task, error)
        huey.emit(events.EVENT_LOCKED, task, error=str(error))
        huey.signals.send(sig.SIGNAL_LOCKED, task)
    else:
        logger.exception("%s failed after %.3fs", task, duration, exc_info=error)
        metadata = _error_metadata(task, error)
        metadata["payload"] = _payload(huey, task)
        huey.record_error(metadata)
        huey.emit(
            events.EVENT_ERROR_TASK,
            task,
            duration=duration,
            error=metadata["error"],
            traceback=metadata["traceback"],
        )
        timed_out = isinstance(error, TaskTimeout)
        huey.signals.send(sig.SIGNAL_TIMEOUT if timed_out else sig.SIGNAL_ERROR, task, error)
    if task.retries > 0 and _retry(huey, task, now):
        return Execution(Outcome.RETRYING, None, error, duration)
    if locked:
        return Execution(Outcome.LOCKED, None, error, duration)
    if huey.store_errors and huey.result_store:
        huey.store_result(task.task_id, ErrorResult(metadata))
    if task.on_error is not None:
        _enqueue_on_error(huey, task.on_error, error, metadata)
    return Execution(Outcome.FAILED, None, error, duration)


def _enqueue_on_error(
    huey: Huey, callback: QueueTask, error: BaseException, metadata: dict[str, Any]
) -> None:
    """huey 3's ``.error()``: the callback gets the exception first (a TaskException
    carrying the error's metadata when the exception does not survive pickling)."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # (un)pickling can fail in many ways; the callback still runs
        error = TaskException(metadata)
    callback.with_parent_result(error)
    huey.enqueue(callback)


def _retry(
    huey: Huey, task: QueueTask, now: datetime.datetime, request: RetryTask | None = None
) -> bool:
    """Enqueue ``task`` again after its retry delay, using up a retry; a RetryTask
    ``request`` keeps the retries and may say when instead. False, logged, when the run
    left arguments that no longer pickle: raised, that ran the task again and again."""
    try:
        huey.serialize_task(task)
    except Exception as exc:  # pickling can raise almost anything
        logger.error("%s cannot be retried, its message no longer pickles: %s", task, exc)
        return False
    delay: float | datetime.timedelta = task.retry_delay
    if request is None:
        task.retries -= 1
    elif request.delay is not None:
        delay = request.delay
    if not isinstance(delay, datetime.timedelta):
        delay = datetime.timedelta(seconds=delay)
    if request is not None and request.eta is not None:
        task.execute_time = compute_eta(request.eta, convert_utc=huey.utc)
    else:
        task.execute_time = now + delay if delay else None
    logger.info("%s will be retried (%d retries left)", task, task.retries)
    huey.emit(events.EVENT_RETRYING, task, delay=delay.total_seconds())
    huey.signals.send(sig.SIGNAL_RETRYING, task)
    huey.enqueue(task)
    return True


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


def _error_metadata(task: QueueTask, error: BaseException) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task": task.name,
        "error": repr(error),
        "traceback": "".join(traceback.format_exception(error)),
        "retries": task.retries,
        "execute_time": task.execute_time.isoformat() if task.execute_time else None,
        "time": records.stamp(),
    }
