"""huey 3's task priority: higher priorities run first, equal ones in order, on memory,
SQLite and Redis (PriorityRedisHuey); a requeue or the schedule keeps a task's priority."""

from __future__ import annotations

import datetime
import os
import signal
import time
import uuid

import pytest

from huey import Huey, PriorityRedisExpireHuey, PriorityRedisHuey, RedisHuey
from huey.storage import PriorityExpiringRedisStorage, PriorityRedisStorage, RedisStorage
from tests.conftest import WAIT, backend_url
from tests.huey.consumer.test_process import APPS, ConsumerProcess
from tests.waiting import wait_until


@pytest.fixture(params=["memory", "sqlite", "redis-priority"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:
    return backend_url(request.param, request, tmp_path)


@pytest.fixture
def huey(storage_url: str) -> Huey:
    """A signed Huey per backend (so Lua reads priorities past a signature); on Redis, a
    PriorityRedisHuey, as huey 3 apps that rely on the order build it."""
    name = f"prio-{uuid.uuid4().hex[:8]}"
    if storage_url.endswith("?priority=true"):
        instance = PriorityRedisHuey(name, url=storage_url.partition("?")[0], secret="s")
    else:
        instance = Huey(name, url=storage_url, secret="s")
    yield instance
    instance.flush()
    instance.storage.close()


def _labels(huey: Huey) -> list[str]:
    """The queued tasks' first arguments, in the order workers would take them."""
    return [task.args[0] for task in huey.pending()]


def test_a_consumer_runs_higher_priorities_first_and_equal_ones_in_order(huey, consumer):
    ran: list[str] = []

    @huey.task()
    def job(label):
        ran.append(label)

    @huey.task(priority=5)
    def urgent(label):
        ran.append(label)

    job("low-1")
    job.schedule(("high-1",), priority=9)
    job.schedule(("negative",), priority=-1)
    job("low-2")
    urgent("five")
    job.schedule(("high-2",), priority=9)
    consumer(workers=1)
    assert wait_until(lambda: len(ran) == 6, WAIT)
    assert ran == ["high-1", "high-2", "five", "low-1", "low-2", "negative"]


def test_scheduled_tasks_reach_the_queue_with_their_priority(huey):
    @huey.task()
    def job(label):
        return label

    job.schedule(("first-due-low",), delay=10)
    job.schedule(("later-high",), delay=20, priority=3)
    job("queued-now")
    moved = huey.storage.enqueue_due(datetime.datetime.utcnow() + datetime.timedelta(minutes=1))
    assert moved == 2
    assert _labels(huey) == ["later-high", "queued-now", "first-due-low"]


def test_a_requeued_task_goes_back_before_others_of_its_priority(huey):
    @huey.task()
    def job(label):
        return label

    job.schedule(("taken",), priority=1)
    assert huey.storage.fetch("dead-consumer", timeout=1) is not None
    job("plain")
    job.schedule(("same-priority-later",), priority=1)
    job.schedule(("higher",), priority=5)
    assert huey.storage.requeue("dead-consumer") == 1
    expected = ["higher", "taken", "same-priority-later", "plain"]
    assert _labels(huey) == expected
    assert [huey.dequeue().args[0] for _ in expected] == expected


def test_priority_redis_classes_pick_the_priority_queue_and_redis_huey_the_list(redis_server):
    url = redis_server.url
    assert type(PriorityRedisHuey("p", url=url).storage) is PriorityRedisStorage
    assert type(PriorityRedisExpireHuey("p", url=url).storage) is PriorityExpiringRedisStorage
    assert type(PriorityRedisHuey("p", port=redis_server.port).storage) is PriorityRedisStorage
    assert type(RedisHuey("p", url=url).storage) is RedisStorage
    assert type(Huey("p", url=url + "?priority=true").storage) is PriorityRedisStorage


@pytest.mark.slow
def test_priority_survives_a_requeue_after_the_consumer_is_killed(redis_server, tmp_path):
    """A consumer is SIGKILLed mid-task; the next one requeues that task with its priority,
    so it runs after a higher and before a lower priority task enqueued meanwhile."""
    name, url = f"prio-{uuid.uuid4().hex[:6]}", redis_server.url + "?priority=true"
    env = {
        **os.environ,
        "TEST_HUEY_URL": url,
        "TEST_HUEY_NAME": name,
        "TEST_MARKS_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    producer = Huey(name, url=url)
    slow = producer.task(name="slow")(lambda seconds, mark: None)
    started: list[ConsumerProcess] = []

    def start() -> ConsumerProcess:
        started.append(ConsumerProcess(env, "--heartbeat-timeout", "2", "-w", "1"))
        return started[-1]

    try:
        victim = start()
        slow.schedule((1.0, "crashed"), priority=1)
        assert wait_until(lambda: (tmp_path / "crashed.started").exists())
        victim.signal(signal.SIGKILL)
        victim.wait()
        # Let its heartbeat expire, so the next consumer requeues before its worker fetches.
        assert wait_until(
            lambda: all(beat < time.time() - 3 for beat in producer.storage.heartbeats().values())
        )
        slow.schedule((0.05, "low"), priority=0)
        slow.schedule((0.05, "high"), priority=9)
        start()
        finished = [tmp_path / f"{mark}.finished" for mark in ("high", "crashed", "low")]
        assert wait_until(lambda: all(path.exists() for path in finished), 30)
        starts = [(tmp_path / f"{p.stem}.started").stat().st_mtime_ns for p in finished]
        assert starts == sorted(starts)  # high, then the requeued task, then low
    finally:
        for process in started:
            process.stop()
        producer.flush()
