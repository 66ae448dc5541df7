"""The worker health check: dead workers and workers stuck outside a task are replaced;
a worker running a long task is left alone. ``check_workers(now)`` drives the clock."""

from __future__ import annotations

import threading
import time

import pytest

from huey.bin.huey_consumer import build_parser
from huey.consumer.options import ConsumerOptions, options_from_namespace
from huey.exceptions import TaskException
from tests.waiting import wait_until


def test_an_idle_worker_silent_past_the_stuck_timeout_is_replaced(huey, consumer):
    @huey.task()
    def add(a, b):
        return a + b

    c = consumer(workers=2, stuck_timeout=30)
    before = dict(c._workers)
    c.check_workers(time.time())
    assert c._workers == before  # idle workers come around every second: healthy
    c.check_workers(time.time() + 60)  # as if their loops had been silent for a minute
    assert set(c._workers).isdisjoint(before)
    assert len(c._workers) == 2
    assert wait_until(lambda: not any(handle.is_alive() for handle, _, _ in before.values()))
    assert add(1, 2).get(blocking=True, timeout=20) == 3


def test_a_worker_running_a_long_task_is_not_stuck(huey, consumer):
    started, release = threading.Event(), threading.Event()

    @huey.task()
    def long_task():
        started.set()
        release.wait(20)
        return "done"

    c = consumer(workers=1, stuck_timeout=30)
    result = long_task()
    assert started.wait(20)
    before = dict(c._workers)
    c.check_workers(time.time() + 3600)
    assert c._workers == before
    release.set()
    assert result.get(blocking=True, timeout=20) == "done"


def test_every_flag_of_the_1x_consumer_is_accepted():
    flags = ["-d", "0.1", "-m", "10", "-b", "1.15", "-s", "10", "-c", "60", "-C", "-u"]
    options = options_from_namespace(build_parser().parse_args(["app.huey", *flags]))
    assert options == ConsumerOptions(health_check_interval=60, check_worker_health=False)


@pytest.mark.parametrize("raised", [SystemExit, KeyboardInterrupt])
def test_a_task_raising_system_exit_fails_and_its_worker_lives_on(huey, consumer, raised):
    """Only the task itself raises these in a worker (the consumer handles the signals), so
    each is the task's failure: the worker killed by it had its task requeued, took it up
    again when replaced and died again, a task that blocked its worker for good."""

    @huey.task()
    def bail():
        raise raised(3)

    @huey.task()
    def add(a, b):
        return a + b

    c = consumer(workers=1, health_check_interval=0.2)
    before = dict(c._workers)
    with pytest.raises(TaskException):
        bail().get(blocking=True, timeout=20)
    assert add(1, 2).get(blocking=True, timeout=20) == 3
    assert c._workers == before  # the same worker ran both


def test_a_task_whose_result_cannot_be_pickled_fails_once(huey, consumer):
    """Storing the result raised out of the worker's loop before the ack, so the task ran
    again and again (its side effects with it) and held its worker."""
    runs = []

    @huey.task()
    def unpicklable():
        runs.append(1)
        return lambda: "not picklable"

    @huey.task()
    def add(a, b):
        return a + b

    consumer(workers=1)
    with pytest.raises(TaskException, match="cannot be pickled"):
        unpicklable().get(blocking=True, timeout=20)
    assert add(1, 2).get(blocking=True, timeout=20) == 3
    assert len(runs) == 1


def test_a_task_that_leaves_arguments_that_do_not_pickle_is_not_retried(huey, consumer):
    """Its retry could not be enqueued: that raised out of the worker's loop before the
    ack, so the task ran again and again."""
    runs = []

    @huey.task(retries=2)
    def spoil(d):
        runs.append(1)
        d["f"] = lambda: "not picklable"
        raise ValueError("boom")

    @huey.task()
    def add(a, b):
        return a + b

    consumer(workers=1)
    with pytest.raises(TaskException, match="boom"):
        spoil({}).get(blocking=True, timeout=20)
    assert add(1, 2).get(blocking=True, timeout=20) == 3
    assert len(runs) == 1
