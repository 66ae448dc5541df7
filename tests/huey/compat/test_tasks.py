"""huey 3's task options: context tasks, RetryTask, Task fields, lock extras."""

from __future__ import annotations

import datetime
import time

import pytest

from huey import (
    CancelExecution,
    MessageError,
    PeriodicQueueTask,
    QueueTask,
    RetryTask,
    Task,
    TaskException,
    TaskLockedException,
    crontab,
)
from huey import signals as S
from huey.api import PeriodicTask
from huey.task import utcnow


def test_context_true_passes_the_running_task(huey, run_queued):
    @huey.task(context=True)
    def whoami(n, task=None):
        return (n, task.id)

    @huey.periodic_task(crontab(), context=True)
    def tick(task=None):
        return task.name

    result = whoami(1)
    assert run_queued(huey) == [(1, result.id)]
    (periodic,) = huey.read_periodic(datetime.datetime(2030, 1, 1))
    assert huey.execute(periodic) == tick.name


def test_task_is_the_queued_task_with_huey3_fields(huey):
    @huey.task(retries=2)
    def job(a, b=0):
        return a + b

    eta = utcnow() + datetime.timedelta(hours=1)
    result = job.schedule(args=(1,), kwargs={"b": 2}, eta=eta, convert_utc=False)
    (task,) = huey.scheduled()
    assert Task is QueueTask and isinstance(task, Task)
    assert (task.id, task.args, task.kwargs, task.eta, task.retries) == (
        result.id,
        (1,),
        {"b": 2},
        eta,
        2,
    )


def test_periodic_task_is_huey3s_name_receivers_use_to_tell_periodic_runs_apart(huey, run_queued):
    @huey.task()
    def job():
        return 1

    @huey.periodic_task(crontab())
    def tick():
        return 2

    periodic_seen = []

    @huey.signal(S.SIGNAL_COMPLETE)
    def done(signal, task):
        periodic_seen.append((task.name, isinstance(task, PeriodicTask)))

    job()
    run_queued(huey)
    (periodic,) = huey.read_periodic(datetime.datetime(2030, 1, 1))
    huey.execute(periodic)
    assert PeriodicTask is PeriodicQueueTask
    assert periodic_seen == [(job.name, False), (tick.name, True)]


def test_retry_task_runs_again_after_its_delay_keeping_retries(huey, run_queued):
    attempts = []

    @huey.task(retries=1)
    def poll():
        attempts.append(1)
        if len(attempts) == 1:
            raise RetryTask(delay=30)
        return "ready"

    result = poll()
    assert run_queued(huey) == [None]
    (retry,) = huey.scheduled()
    assert retry.retries == 1 and retry.eta > utcnow() + datetime.timedelta(seconds=25)
    assert huey.errors() == []  # a retry request is not a failure
    (due,) = huey.read_schedule(retry.eta)
    assert huey.execute(due, timestamp=retry.eta) == "ready" and result.get() == "ready"


def test_retry_task_with_eta_and_without_retries(huey, run_queued):
    @huey.task()
    def later():
        raise RetryTask(eta=datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc))

    later()
    run_queued(huey)
    (retry,) = huey.scheduled()
    assert retry.eta == datetime.datetime(2031, 1, 1)


def test_lock_task_is_locked_clear_and_flush_locks_by_name(huey):
    lock = huey.lock_task("report")
    with lock:
        assert lock.is_locked() and huey.is_locked("report")
        with pytest.raises(TaskLockedException), huey.lock_task("report"):
            pass
    assert not huey.is_locked("report")
    huey.put_if_empty("huey.lock.elsewhere", b"1")  # held by a lock this process never made
    assert huey.flush_locks("elsewhere") == {"elsewhere"}
    with lock:
        assert lock.clear() is True and not lock.is_locked()


def test_priority_and_expires_travel_with_the_task(huey):
    @huey.task(priority=5, expires=60)
    def job():
        return 1

    job()
    job.schedule(delay=10, priority=9, expires=datetime.timedelta(hours=1), id="given")
    before = utcnow()
    queued, scheduled = huey.pending()[0], huey.scheduled()[0]
    assert (queued.priority, scheduled.priority, scheduled.id) == (5, 9, "given")
    assert queued.expires == 60  # as given; the time it means is expires_resolved
    assert before < queued.expires_resolved < before + datetime.timedelta(seconds=61)
    assert scheduled.expires == 3600  # a timedelta travels as seconds
    # a task due later expires counting from its execute time
    assert scheduled.expires_resolved > before + datetime.timedelta(minutes=60, seconds=9)


@pytest.mark.parametrize("expires", [0.001, datetime.timedelta(milliseconds=1)])
def test_an_expired_task_is_discarded_with_an_expired_signal(huey, run_queued, expires):
    expired = []

    @huey.signal("expired")
    def seen(signal, task):
        expired.append(task.id)

    @huey.task(expires=expires)
    def job():
        return "ran"

    result = job()
    later = utcnow() + datetime.timedelta(seconds=1)
    assert huey.execute(huey.dequeue(), timestamp=later) is None
    assert expired == [result.id] and result.get() is None


def test_an_unexpired_task_runs_and_reschedule_keeps_priority(huey, run_queued):
    @huey.task(expires=datetime.datetime(2100, 1, 1), priority=3)
    def job():
        return "ran"

    result = job()
    assert run_queued(huey) == ["ran"]
    again = result.reschedule(delay=60, priority=7)
    (task,) = huey.scheduled()
    assert (task.id, task.priority, task.expires) == (again.id, 7, datetime.datetime(2100, 1, 1))


def test_context_task_runs_inside_the_context_and_can_pass_it(huey, run_queued):
    events = []

    class Connection:
        def __enter__(self):
            events.append("open")
            return "conn"

        def __exit__(self, *exc):
            events.append("close")

    @huey.context_task(Connection(), as_argument=True, retries=1)
    def query(conn, sql):
        events.append((conn, sql))
        return sql.upper()

    query("select")
    assert run_queued(huey) == ["SELECT"]
    assert events == ["open", ("conn", "select"), "close"]
    assert query.s().retries == 1 and query.name.endswith("query")


def test_unregister_forgets_the_task(huey):
    @huey.task()
    def gone():
        return 1

    gone()
    assert gone.unregister() is True and gone.unregister() is False
    with pytest.raises(MessageError):
        huey.dequeue()


@pytest.mark.parametrize("retry", [None, True, False])
def test_cancel_execution_from_a_hook_drops_the_task_whatever_its_retry_flag(huey, retry):
    canceled = []
    huey.signal("canceled")(lambda signal, task: canceled.append(task.id))

    @huey.pre_execute()
    def gate(task):
        raise CancelExecution("not today", retry=retry)

    @huey.task(retries=2)
    def job():
        return 1

    result = job()
    assert huey.execute(huey.dequeue()) is None
    assert len(huey) == 0 and huey.scheduled() == [] and result.get() is None
    assert canceled == [result.id]


def test_cancel_execution_raised_by_the_task_is_an_error_result_and_retries(huey, run_queued):
    canceled = []

    @huey.signal("canceled")
    def seen(signal, task):
        canceled.append(task.retries)

    @huey.task(retry_delay=60)
    def job():
        raise CancelExecution(retry=True)

    result = job()
    assert run_queued(huey) == [None] and canceled == [0]
    with pytest.raises(TaskException, match=r"CancelExecution\(\)") as error:
        result.get()
    assert error.value.metadata["retries"] == 1  # at least one retry, even with none declared
    (retry,) = huey.scheduled()
    assert retry.id == result.id and retry.retries == 0
    assert huey.errors() == []  # a cancel is not a failure for the error store


def test_an_expired_task_publishes_an_expired_event(huey, in_thread):
    @huey.task(expires=0.001)
    def job():
        return "ran"

    stream = huey.events_stream()
    job()
    huey.execute(huey.dequeue(), timestamp=utcnow() + datetime.timedelta(seconds=1))
    listener = in_thread(lambda: next(e for e in stream if e["status"] == "expired"))
    assert listener.finish()["task"] == job.name


def test_a_lock_with_a_ttl_is_taken_over_once_it_lapses(huey, run_queued):
    lock = huey.lock_task("nightly", ttl=0.2)
    assert lock.acquire() and lock.locked() and huey.is_locked("nightly")
    with pytest.raises(TaskLockedException):
        huey.lock_task("nightly", ttl=0.2).acquire()
    time.sleep(0.3)  # the holder died without releasing it
    assert not huey.is_locked("nightly")

    @huey.task()
    @huey.lock_task("nightly", ttl=60)
    def report():
        return "ran"

    report()
    assert run_queued(huey) == ["ran"] and not lock.is_locked()
    with huey.lock_task("forever"):
        time.sleep(0.05)
        assert huey.is_locked("forever")  # no ttl: held until released
    assert lock.release() is False


def test_is_revoked_takes_a_result_handle_huey3s_timestamp_and_peek(huey):
    @huey.task()
    def job():
        return 1

    result = job()
    result.revoke(revoke_once=True)
    assert huey.is_revoked(result) and job.is_revoked(timestamp=utcnow()) is False
    assert huey.is_revoked(result, peek=False)  # checked as a worker does: used up
    assert not huey.is_revoked(result)
    later = utcnow() + datetime.timedelta(hours=1)
    job.revoke(revoke_until=later)
    assert job.is_revoked(timestamp=utcnow()) and not job.is_revoked(timestamp=later)


def test_expires_resolved_is_the_time_enqueueing_fixed(huey):
    @huey.task(expires=60)
    def job():
        return 1

    assert job.s().expires_resolved is None
    job()
    (task,) = huey.pending()
    assert utcnow() < task.expires_resolved <= utcnow() + datetime.timedelta(seconds=60)
