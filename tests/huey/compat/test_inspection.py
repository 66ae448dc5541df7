"""huey 3's counting, inspection and key/value methods, on every backend."""

from __future__ import annotations

import datetime

import pytest

from huey import TaskException, crontab
from huey.task import utcnow


def test_counts_follow_queue_schedule_and_results(huey, run_queued):
    @huey.task()
    def job(n):
        return n

    handles = [job(1), job(2)]
    job.schedule(args=(3,), delay=3600)
    assert (len(huey), huey.pending_count(), huey.scheduled_count()) == (2, 2, 1)
    assert [t.args for t in huey.pending()] == [(1,), (2,)]
    assert run_queued(huey) == [1, 2]
    assert (len(huey), huey.result_count(), huey.scheduled_count()) == (0, 2, 1)
    assert set(huey.all_results()) == {h.id for h in handles}
    huey.flush()
    assert (len(huey), huey.result_count(), huey.scheduled_count()) == (0, 0, 0)


def test_dequeue_returns_the_next_task_and_none_when_empty(huey):
    @huey.task()
    def job(n):
        return n

    first = job(1)
    job(2)
    task = huey.dequeue()
    assert task.id == first.id and task.args == (1,) and task.kwargs == {}
    assert huey.dequeue().args == (2,)
    assert huey.dequeue() is None


def test_execute_returns_none_for_a_failure_and_counts_the_retry_delay_from_now(huey):
    @huey.task(retries=1, retry_delay=60)
    def flaky():
        raise RuntimeError("down")

    result = flaky()
    then = utcnow() - datetime.timedelta(days=1)
    assert huey.execute(huey.dequeue(), timestamp=then) is None  # recorded, not raised
    with pytest.raises(TaskException, match="RuntimeError"):
        result.get()
    (retry,) = huey.scheduled()
    assert retry.retries == 0
    now = utcnow()
    assert now + datetime.timedelta(seconds=58) < retry.eta < now + datetime.timedelta(seconds=61)


def test_execute_schedules_a_task_not_due_at_its_timestamp(huey):
    @huey.task()
    def job():
        return "ran"

    task = job.s()
    task.execute_time = utcnow() + datetime.timedelta(minutes=5)
    assert huey.execute(task) is None
    assert [t.id for t in huey.scheduled()] == [task.id] and len(huey) == 0
    later = utcnow() + datetime.timedelta(minutes=6)
    assert huey.execute(huey.read_schedule(later)[0], timestamp=later) == "ran"


def test_read_schedule_takes_due_tasks_only(huey):
    @huey.task()
    def job(n):
        return n

    now = utcnow()
    job.schedule(args=(1,), eta=now + datetime.timedelta(hours=1), convert_utc=False)
    job.schedule(args=(2,), eta=now + datetime.timedelta(hours=3), convert_utc=False)
    later = now + datetime.timedelta(hours=2)
    assert [t.args for t in huey.read_schedule(later)] == [(1,)]
    assert huey.read_schedule(later) == [] and huey.scheduled_count() == 1


def test_a_task_whose_time_has_come_is_queued_at_once(huey):
    @huey.task()
    def job(n):
        return n

    heard = []
    huey.signal()(lambda signal, task, *extra: heard.append(signal))
    past = job.schedule(args=(1,), delay=-1)
    assert len(huey) == 1 and huey.scheduled_count() == 0 and heard == ["enqueued"]
    assert huey.execute(huey.dequeue()) == 1 and past.get() == 1


def test_read_periodic_returns_the_tasks_due_at_a_time(huey):
    @huey.periodic_task(crontab(minute="0"))
    def hourly():
        return "h"

    @huey.periodic_task(crontab(minute="30"))
    def half_past():
        return "h30"

    at = datetime.datetime(2030, 1, 1, 10, 0)
    (task,) = huey.read_periodic(at)
    assert task.name == hourly.name
    assert [t.name for t in huey.read_periodic(at.replace(minute=30))] == [half_past.name]


def test_put_get_delete_and_put_if_empty(huey):
    assert huey.put("k", {"a": [1, 2]}) is True
    assert huey.get("k", peek=True) == {"a": [1, 2]}
    assert huey.get("k") == {"a": [1, 2]}
    assert huey.get("k") is None
    assert huey.put_if_empty("k", 1) is True and huey.put_if_empty("k", 2) is False
    assert huey.delete("k") is True and huey.delete("k") is False


def test_an_instance_with_an_empty_queue_is_still_true(huey):
    assert len(huey) == 0 and bool(huey) is True


def test_ready_to_run_compares_the_eta_with_a_time(huey):
    @huey.task()
    def job():
        return 1

    now = utcnow()
    job.schedule(eta=now + datetime.timedelta(minutes=5), convert_utc=False)
    (task,) = huey.scheduled()
    assert not huey.ready_to_run(task) and not huey.ready_to_run(task, now)
    assert huey.ready_to_run(task, now + datetime.timedelta(minutes=5))
    assert huey.ready_to_run(job.s())
