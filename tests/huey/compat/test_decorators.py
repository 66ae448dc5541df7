"""huey 3's task decorators and TaskWrapper: call options, the registry, what they refuse."""

from __future__ import annotations

import datetime

import pytest

import huey as package
from huey import ConfigurationError, TaskNameTaken, crontab
from huey.task import utcnow


def test_call_options_set_the_task_and_the_function_gets_the_rest(huey):
    @huey.task()
    def add(a, b=0):
        return a + b

    task = add.s(1, b=2, id="t1", priority=5, retries=3, retry_delay=4, expires=60, timeout=9)
    assert (task.id, task.args, task.kwargs) == ("t1", (1,), {"b": 2})
    assert (task.priority, task.retries, task.retry_delay, task.timeout) == (5, 3, 4, 9)
    assert add(1, id="t2").id == "t2"
    assert add.s(1, delay=60).eta > utcnow() + datetime.timedelta(seconds=50)
    assert huey.execute(huey.dequeue()) == 1


def test_a_function_that_names_an_option_keeps_it_as_its_argument(huey, run_queued):
    @huey.task()
    def lookup(id, priority="low"):
        return (id, priority)

    @huey.task()
    def record(**fields):
        return fields

    task = lookup.s(id=7, priority="high")
    assert task.id != 7 and task.priority is None
    record(id=1, timeout=2)
    lookup(id=7, priority="high")
    assert run_queued(huey) == [{"id": 1, "timeout": 2}, (7, "high")]


def test_schedule_takes_its_time_first_as_huey3_does(huey):
    @huey.task()
    def ping():
        return "pong"

    soon = utcnow() + datetime.timedelta(seconds=30)
    ping.schedule(30)
    ping.schedule(datetime.timedelta(minutes=1))
    ping.schedule(soon, id="at")
    scheduled = huey.scheduled()
    assert len(scheduled) == 3 and all(t.eta > utcnow() for t in scheduled)
    assert any(t.id == "at" and t.eta == soon for t in scheduled)


def test_the_wrapper_shows_its_retry_defaults_and_keeps_the_docstring(huey):
    @huey.task(retries=2, retry_delay=3)
    def job():
        """Does the job."""

    @huey.periodic_task(crontab(minute="0"))
    def nightly():
        """Runs nightly."""

    assert (job.retries, job.retry_delay) == (2, 3)
    assert (nightly.retries, nightly.retry_delay) == (0, 0)
    assert job.__doc__ == "Does the job." and nightly.__doc__ == "Runs nightly."


def test_coroutine_functions_are_refused(huey):
    async def fetch():
        return 1

    with pytest.raises(ConfigurationError, match="asyncio.run"):
        huey.task()(fetch)
    with pytest.raises(ConfigurationError):
        huey.periodic_task(crontab())(fetch)


def test_a_second_task_of_the_same_name_is_refused_until_renamed(huey):
    def job():
        return 1

    first = huey.task()(job)
    with pytest.raises(TaskNameTaken):
        huey.task()(job)
    with pytest.raises(ValueError):  # huey 3 raises ValueError
        huey.task(name=first.name)(lambda: 2)
    renamed = huey.task(name="job-2")(job)
    assert first.unregister() and huey.task()(job).name == first.name
    assert renamed.name in huey.task_names()


def test_a_task_of_one_huey_decorated_by_another_runs_on_the_other(huey):
    other = package.MemoryHuey("other")

    @huey.task()
    def inc(n):
        return n + 1

    inc_elsewhere = other.task(retries=1)(inc)
    inc_elsewhere(1)
    assert (len(huey), len(other)) == (0, 1)
    assert other.execute(other.dequeue()) == 2 and inc_elsewhere.retries == 1


def test_a_periodic_task_result_is_not_stored(huey):
    @huey.periodic_task(crontab())
    def tick():
        return "tick"

    result = tick()
    assert huey.execute(huey.dequeue()) == "tick"
    assert result.get() is None and huey.result_count() == 0


def test_huey_api_offers_huey3s_names():
    from huey import api

    names = ["BlackHoleHuey", "PriorityRedisHuey", "RedisExpireHuey", "PriorityRedisExpireHuey"]
    for name in [*names, "RateLimit", "ResultGroup", "TaskWrapper", "Task", "crontab"]:
        assert getattr(api, name) is getattr(package, name)


def test_map_without_a_result_store_returns_none(storage_url, run_queued):
    huey = package.Huey("map-no-results", url=storage_url, results=False)

    @huey.task()
    def square(n):
        return n * n

    try:
        assert square.map([1, 2]) is None
        assert run_queued(huey) == [1, 4]
    finally:
        huey.flush()


def test_task_wrapper_built_directly_takes_huey3s_context(huey, run_queued):
    def whoami(task=None):
        return task.id

    wrapper = package.TaskWrapper(huey, whoami, context=True, name="whoami")
    result = wrapper()
    assert run_queued(huey) == [result.id]
