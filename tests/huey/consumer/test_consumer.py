"""An embedded consumer (threads) on every backend: tasks flow end to end."""

from __future__ import annotations

import datetime
import threading
import time

import pytest

from huey import Huey
from huey.consumer import Consumer
from huey.consumer.worker import Worker
from huey.lock import LOCK_PREFIX
from huey.task import utcnow
from tests.waiting import wait_until


def test_consumer_runs_tasks_and_pipelines(huey, consumer):
    @huey.task()
    def add(a, b):
        return a + b

    consumer(workers=2)
    results = [add(i, i) for i in range(20)]
    assert [r.get(blocking=True, timeout=10) for r in results] == [2 * i for i in range(20)]
    chained = huey.enqueue(add.s(1, 2).then(add, 3))
    assert [r.get(blocking=True, timeout=10) for r in chained] == [3, 6]
    assert huey.storage.inflight_size() == 0


def test_delayed_task_runs_at_its_time(huey, consumer):
    @huey.task()
    def stamp():
        return utcnow()

    consumer()
    eta = utcnow() + datetime.timedelta(seconds=0.5)
    result = stamp.schedule(eta=eta, convert_utc=False)
    ran_at = result.get(blocking=True, timeout=10)
    assert ran_at >= eta


def test_retry_with_delay_runs_again(huey, consumer):
    attempts = []

    @huey.task(retries=2, retry_delay=0.2)
    def flaky():
        attempts.append(utcnow())
        if len(attempts) < 3:
            raise ValueError("not yet")
        return "ok"

    huey.store_intermediate_errors = False  # so the result waits through the retries
    consumer()
    assert flaky().get(blocking=True, timeout=10) == "ok"
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= datetime.timedelta(seconds=0.2)


def test_graceful_stop_finishes_running_task(huey, consumer):
    started, release = threading.Event(), threading.Event()

    @huey.task()
    def slow():
        started.set()
        release.wait(5)
        return "finished"

    c = consumer(workers=1, shutdown_timeout=10)
    result = slow()
    assert started.wait(10)
    stopper = threading.Thread(target=c.stop)
    stopper.start()
    time.sleep(0.1)
    release.set()
    stopper.join(10)
    assert result.get() == "finished"
    assert huey.storage.inflight_size() == 0 and huey.storage.queue_size() == 0


def test_stop_timeout_requeues_unfinished_task(huey, consumer):
    started = threading.Event()

    @huey.task()
    def stuck():
        started.set()
        time.sleep(3)

    c = consumer(workers=1, shutdown_timeout=0.2)
    stuck()
    assert started.wait(10)
    c.stop()
    assert huey.storage.queue_size() == 1  # back on the queue, not lost
    assert huey.storage.inflight_size() == 0


def test_dead_consumer_tasks_are_requeued_after_heartbeat_expiry(huey, consumer):
    @huey.task()
    def job():
        return "done"

    job()
    # A consumer that fetched the message and died without acking it.
    assert huey.storage.fetch("dead-consumer:0", 1) is not None
    huey.storage.heartbeat("dead-consumer:0", time.time() - 60)
    c = consumer(heartbeat_timeout=1)
    assert wait_until(lambda: huey.storage.inflight_items("dead-consumer:0") == [])
    assert c is not None
    assert wait_until(lambda: len(huey.all_results()) == 1)


def test_unknown_task_goes_to_error_store(huey, consumer):
    other = Huey("other")

    @other.task(name="not-registered-here")
    def ghost():
        pass

    huey.storage.enqueue(other.serialize_task(ghost.s()))
    consumer()
    assert wait_until(lambda: len(huey.errors()) == 1)
    assert "not-registered-here" in huey.errors()[0]["error"]
    assert wait_until(lambda: huey.storage.inflight_size() == 0)


def test_worker_step_hands_message_back_when_stopping(huey):
    @huey.task()
    def job():
        return 1

    job()

    class Stopped:
        def is_set(self):
            return True

        def wait(self, timeout=None):
            return True

    assert Worker(huey, "w", Stopped(), fetch_timeout=0.5).step() is None
    assert huey.storage.queue_size() == 1 and huey.storage.inflight_size() == 0


def test_greenlet_without_gevent_is_a_clear_error(monkeypatch, huey):
    import builtins

    real_import = builtins.__import__

    def no_gevent(name, *args, **kwargs):
        if name.startswith("gevent"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gevent)
    from huey.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="gevent"):
        Consumer(huey, worker_type="greenlet")


def test_flush_locks_at_start(huey, consumer):
    huey.lock_task("left-over").__enter__()
    consumer(flush_locks=True)
    with huey.lock_task("left-over"):
        pass


def test_extra_locks_are_released_at_start(huey, consumer):
    # A lock taken by name in a context manager the consumer's app never declared.
    huey.storage.put_if_empty(LOCK_PREFIX + "by-hand", b"1")
    consumer(extra_locks=("by-hand",))
    with huey.lock_task("by-hand"):
        pass


def test_max_tasks_replaces_a_worker_after_its_tasks(huey, consumer):
    threads = []

    @huey.task()
    def record(n):
        threads.append(threading.current_thread())
        return n

    running = consumer(workers=1, max_tasks=2)
    results = [record(n) for n in range(5)]  # fetched in one batch by the first worker

    def all_done() -> bool:
        running.check_workers(time.time())  # the health check replaces a finished worker
        return all(r.get() is not None for r in results)

    assert wait_until(all_done)
    assert [r.get() for r in results] == [0, 1, 2, 3, 4]
    assert threads[0] is threads[1] and threads[2] is threads[3]
    assert len({id(t) for t in threads}) == 3


def test_max_tasks_needs_the_health_check(huey):
    from huey.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs the health check"):
        Consumer(huey, max_tasks=5, check_worker_health=False)
