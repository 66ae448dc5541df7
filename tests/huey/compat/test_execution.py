"""huey 3's execution semantics: what a failed, retried, canceled or revoked run leaves
behind (result, error callback, signals, retry time), on every backend."""

from __future__ import annotations

import datetime

import pytest

from huey import (
    CancelExecution,
    Error,
    Huey,
    QueueTask,
    Result,
    ResultTimeout,
    RetryTask,
    Task,
    TaskException,
)
from huey import signals as S
from huey.task import utcnow


@pytest.fixture
def flaky(huey):
    """A task that fails ``fail`` times (counted across its retries), then returns "ok"."""
    attempts = []

    @huey.task(retries=2)
    def flaky(fail):
        attempts.append(fail)
        if len(attempts) <= fail:
            raise ValueError(f"attempt {len(attempts)} fails")
        return "ok"

    return flaky


def test_each_failed_attempt_is_the_result_until_a_retry_succeeds(huey, flaky):
    result = flaky(1)
    assert huey.execute(huey.dequeue()) is None
    with pytest.raises(TaskException, match="attempt 1 fails") as error:
        result.get()
    assert error.value.metadata["retries"] == 2  # retries left when it failed
    assert huey.execute(huey.dequeue()) == "ok"
    with pytest.raises(TaskException):
        result.get()  # the handle keeps what it read ...
    result.reset()
    assert result.get() == "ok"  # ... until reset(): the retry's value replaced the error


def test_without_intermediate_errors_only_the_final_outcome_is_stored(huey, flaky):
    huey.store_intermediate_errors = False
    recovers, gives_up = flaky(1), flaky.s(9)
    assert huey.execute(huey.dequeue()) is None
    assert recovers.get() is None and huey.result_count() == 0
    assert huey.execute(huey.dequeue()) == "ok" and recovers.get() == "ok"

    gives_up.retries = 1
    failing = huey.enqueue(gives_up)
    assert huey.execute(huey.dequeue()) is None and failing.get() is None
    assert huey.execute(huey.dequeue()) is None
    with pytest.raises(TaskException) as error:
        failing.get()
    assert error.value.metadata["retries"] == 0 and len(huey) == 0


def test_a_failed_step_fails_the_pipeline_steps_after_it(huey):
    @huey.task()
    def decrement(n):
        if n < 0:
            raise ValueError("below zero")
        return n - 1

    results = huey.enqueue(decrement.s(0).then(decrement).then(decrement))
    assert [huey.execute(huey.dequeue()) for _ in range(2)] == [-1, None]
    assert len(huey) == 0 and results[0].get() == -1
    for later in results[1:]:
        with pytest.raises(TaskException) as error:
            later.get()
        assert error.value.metadata["task_id"] == results[1].id


def test_retry_backoff_multiplies_the_delay_after_each_attempt(huey):
    @huey.task(retries=3, retry_delay=2, retry_backoff=2)
    def unreachable():
        raise ConnectionError("down")

    unreachable()
    task = huey.dequeue()
    for retries, waited, next_delay in ((2, 2, 4), (1, 4, 8), (0, 8, 16)):
        assert huey.execute(task, timestamp=task.eta) is None
        (task,) = huey.read_schedule(utcnow() + datetime.timedelta(days=1))
        assert (task.retries, task.retry_delay, task.retry_backoff) == (retries, next_delay, 2)
        wait = (task.eta - utcnow()).total_seconds()
        assert waited - 1 < wait <= waited
    assert huey.execute(task, timestamp=task.eta) is None
    assert huey.scheduled_count() == 0 and len(huey) == 0  # retries used up

    unreachable.schedule(delay=60, retry_backoff=3)
    assert huey.scheduled()[0].retry_backoff == 3


def test_retry_task_is_no_error_and_leaves_the_result_unready(huey):
    @huey.task(retry_delay=10)
    def poll(delay=None):
        raise RetryTask("not yet", delay=delay)

    for delay, expected in ((None, 10), (300, 300)):
        result = poll(delay)
        assert huey.execute(huey.dequeue()) is None
        assert result.get() is None and huey.errors() == []
        (retry,) = huey.scheduled()
        wait = (retry.eta - utcnow()).total_seconds()
        assert retry.id == result.id and expected - 2 < wait <= expected
        huey.flush()


@pytest.mark.parametrize(
    ("retry", "retries", "reported"),
    [(None, 2, [2, 1, 0]), (False, 2, [0]), (True, 0, [1, 1, 1])],
)
def test_cancel_execution_from_the_task_reports_and_retries_as_asked(
    huey, retry, retries, reported
):
    @huey.task(retries=retries)
    def job():
        raise CancelExecution(retry=retry)

    result = job()
    seen = []
    for _ in reported:
        assert huey.execute(huey.dequeue()) is None
        with pytest.raises(TaskException, match=r"CancelExecution\(\)") as error:
            result.get()
        seen.append(error.value.metadata["retries"])
        result.reset()
    assert seen == reported
    assert len(huey) == (1 if retry else 0)  # retry=True: at least once more, every time


def test_cancel_execution_carries_a_message_and_a_retry_flag():
    assert str(CancelExecution("nope")) == "nope" and CancelExecution("nope").retry is None
    assert CancelExecution(retry=True).retry is True
    assert repr(CancelExecution()) == "CancelExecution()"


def test_a_rate_limited_task_with_retries_but_no_delay_waits_for_the_next_window(huey):
    heard = []
    huey.signal()(lambda signal, task, *extra: heard.append(signal))

    @huey.task(retries=2)
    def sync():
        with huey.rate_limit("window", limit=1, per=86400, retry=False):
            return "ok"

    sync()
    second = sync()
    assert huey.execute(huey.dequeue()) == "ok"
    heard.clear()
    assert huey.execute(huey.dequeue()) is None and second.get() is None
    assert heard == [
        S.SIGNAL_EXECUTING,
        S.SIGNAL_RATE_LIMITED,
        S.SIGNAL_RETRYING,
        S.SIGNAL_SCHEDULED,
    ]
    (retry,) = huey.scheduled()
    assert retry.retries == 1 and retry.eta > utcnow() + datetime.timedelta(hours=1)


def test_an_immediate_retry_is_enqueued_again_with_its_signals(huey, flaky):
    heard = []
    huey.signal()(lambda signal, task, *extra: heard.append(signal))
    flaky(1)
    heard.clear()
    assert huey.execute(huey.dequeue()) is None
    assert heard == [S.SIGNAL_EXECUTING, S.SIGNAL_ERROR, S.SIGNAL_RETRYING, S.SIGNAL_ENQUEUED]
    assert huey.dequeue().retries == 1


def test_build_error_result_adds_to_what_a_failure_records(storage_url):
    class Annotated(Huey):
        def build_error_result(self, task, exception):
            return {**super().build_error_result(task, exception), "args": task.args}

    huey = Annotated("annotated", url=storage_url)

    @huey.task()
    def inner(n):
        raise KeyError(n)

    @huey.task()
    def outer(n):
        failed = inner(n)
        huey.execute(huey.dequeue())
        return failed.get()

    result = outer(7)
    assert huey.execute(huey.dequeue()) is None
    with pytest.raises(TaskException) as error:
        result.get()
    metadata = error.value.metadata
    assert metadata["args"] == (7,) and metadata["task_id"] == result.id
    assert metadata["error"] == "KeyError(7)"  # the error the awaited task raised
    assert huey.errors()[0]["args"] == [7]
    huey.flush()


def test_revocations_are_judged_at_the_execute_timestamp(huey):
    @huey.task()
    def job(n):
        return n

    until = datetime.datetime(2030, 1, 1)
    job.revoke(revoke_until=until)
    second = datetime.timedelta(seconds=1)
    assert job.is_revoked(timestamp=until - second) and not job.is_revoked(timestamp=until)
    first = job(1)
    assert huey.is_revoked(first) and huey.is_revoked(first.task)
    job(2)
    assert huey.execute(huey.dequeue(), timestamp=until - second) is None  # discarded
    assert huey.execute(huey.dequeue(), timestamp=until) == 2
    assert not job.is_revoked(timestamp=until - second)  # that run cleared the passed revoke


def test_a_task_takes_huey3s_id_keyword():
    assert Task(id="tx").id == "tx" and QueueTask(id="ty").task_id == "ty"


def test_a_zero_timeout_is_no_timeout(huey):
    @huey.task(timeout=0, context=True)
    def job(task=None):
        return task.time_remaining

    job()
    assert huey.execute(huey.dequeue()) == float("inf")


def test_is_ready_reads_the_result_into_the_handle(huey):
    @huey.task()
    def job():
        return "done"

    result = job()
    assert not result.is_ready()
    huey.execute(huey.dequeue())
    assert result.is_ready() and huey.result_count() == 0  # read out of the store
    assert type(result)(huey, result.task).is_ready() is False  # another handle finds none
    assert result.get() == "done"


def test_map_without_a_result_store_returns_none(storage_url):
    huey = Huey("no-results", url=storage_url, results=False)

    @huey.task()
    def double(n):
        return n * 2

    assert double.map([1, 2]) is None
    assert [huey.execute(huey.dequeue()) for _ in range(2)] == [2, 4]
    huey.flush()


def test_retry_requests_are_no_failure_until_the_final_refusal(huey):
    handled = []

    @huey.task()
    def on_error(error):
        handled.append(type(error).__name__)

    @huey.task(retries=1)
    def exclusive():
        with huey.lock_task("exclusive"):
            return "ran"

    @huey.task()
    @huey.rate_limit("closed", limit=0, per=60, retry=False)
    def closed():
        return "ran"

    locked = huey.enqueue(exclusive.s().error(on_error))
    with huey.lock_task("exclusive"):
        assert huey.execute(huey.dequeue()) is None  # the lock is held: retried later
    assert locked.get() is None and handled == [] and len(huey) == 1
    assert huey.execute(huey.dequeue()) == "ran"

    refused = huey.enqueue(closed.s().error(on_error))
    assert huey.execute(huey.dequeue()) is None  # no retries: the refusal is final
    with pytest.raises(TaskException, match="RateLimitExceeded"):
        refused.get()
    assert huey.execute(huey.dequeue()) is None and handled == ["RateLimitExceeded"]


def test_reschedule_can_drop_the_pipeline_and_huey_revoke_takes_a_result(huey):
    @huey.task()
    def step(n):
        return n + 1

    first, _ = huey.enqueue(step.s(1).then(step))
    alone = first.reschedule(preserve_pipeline=False)
    assert huey.execute(huey.dequeue()) is None  # the original, revoked by reschedule
    assert huey.execute(huey.dequeue()) == 2 and len(huey) == 0  # no next step
    assert alone.get() == 2

    later = step(5)
    huey.revoke(later)
    assert later.is_revoked() and huey.restore(later) and not later.is_revoked()


def test_a_relative_expiry_stays_relative_and_counts_from_each_enqueue(huey):
    @huey.task(expires=30)
    def job():
        return "ran"

    later = job.schedule(delay=600)
    (scheduled,) = huey.scheduled()
    eta = scheduled.eta
    assert scheduled.expires == 30
    assert scheduled.expires_resolved == eta + datetime.timedelta(seconds=30)
    (due,) = huey.read_schedule(eta)
    assert huey.execute(due, timestamp=eta + datetime.timedelta(seconds=10)) == "ran"
    assert later.get() == "ran"

    first = job()
    moved = first.reschedule(delay=600)  # the copy's expiry counts from its new time
    (copy,) = huey.scheduled()
    assert copy.id == moved.id and copy.expires == 30
    assert copy.expires_resolved == copy.eta + datetime.timedelta(seconds=30)


def test_an_error_callback_with_a_relative_expiry_resolves_when_enqueued(huey):
    @huey.task()
    def fails():
        raise ValueError("no")

    @huey.task(expires=60)
    def report(error):
        return type(error).__name__

    huey.enqueue(fails.s().error(report))
    assert huey.execute(huey.dequeue()) is None
    callback = huey.dequeue()
    assert callback.expires == 60 and callback.expires_resolved > utcnow()
    assert huey.execute(callback) == "ValueError"


def test_a_failure_is_stored_as_an_error_holding_its_metadata(huey):
    @huey.task()
    def fails():
        raise LookupError("gone")

    result = fails()
    huey.execute(huey.dequeue())
    stored = huey.get(result.id, peek=True)
    assert isinstance(stored, Error) and stored.metadata["error"] == "LookupError('gone')"
    with pytest.raises(TaskException):
        result.get()


def test_a_wait_that_saw_the_result_but_cannot_read_it_raises(huey, monkeypatch):
    # as when another reader took the result between the wake-up and the read
    monkeypatch.setattr(huey.storage, "wait_result", lambda *args, **kwargs: True)
    with pytest.raises(ResultTimeout):
        Result(huey, Task(id="taken")).get(blocking=True)
