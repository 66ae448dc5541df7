"""huey.contrib.helpers: RedisSemaphore and lock_task_semaphore, as huey 3 apps use them."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from huey import MemoryHuey, RedisHuey
from huey import signals as S
from huey.contrib.helpers import RedisSemaphore, lock_task_semaphore
from huey.exceptions import ConfigurationError


@pytest.fixture
def huey(redis_server):
    redis_server.start()
    redis_server.flushdb()
    app = RedisHuey(f"sem-{uuid.uuid4().hex[:8]}", url=redis_server.url)
    yield app
    app.flush()


def test_a_semaphore_admits_value_holders_and_frees_a_place_on_release(huey):
    semaphore = RedisSemaphore(huey, "pair", 2)
    first, second = semaphore.acquire(), semaphore.acquire()
    assert first and second and first != second
    assert semaphore.acquire() is None  # both places taken
    assert semaphore.acquire(second) == second  # a holder asking again keeps its place
    assert semaphore.release(second) == 1
    assert semaphore.release(second) == 0  # already released
    assert semaphore.acquire("mine") == "mine"
    assert semaphore.acquire() is None


def test_only_value_of_many_racing_callers_get_a_place(huey, race):
    semaphore = RedisSemaphore(huey, "five", 5)
    taken = [name for name in race(20, semaphore.acquire) if name is not None]
    assert len(taken) == 5 and len(set(taken)) == 5
    assert huey.storage.conn.zcard(semaphore.key) == 5


def test_a_holder_that_stops_renewing_loses_its_place(huey):
    semaphore = RedisSemaphore(huey, "short", 1, timeout=0.3)
    stale = semaphore.acquire()
    assert stale is not None and semaphore.acquire() is None
    time.sleep(0.5)
    fresh = semaphore.acquire()
    assert fresh is not None
    assert semaphore.renew(stale) is False  # the expired holder cannot renew its way back
    assert semaphore.renew(fresh) is True


def test_flush_clears_semaphores_with_the_rest_of_the_instance(huey):
    semaphore = RedisSemaphore(huey, "flushed", 1)
    semaphore.acquire()
    huey.flush()
    assert semaphore.acquire() is not None


def test_a_semaphore_on_another_storage_fails_on_first_use():
    semaphore = RedisSemaphore(MemoryHuey("sem-memory"), "m", 1)  # building it is fine
    with pytest.raises(ConfigurationError, match="needs a Redis storage"):
        semaphore.acquire()


def test_lock_task_semaphore_lets_value_runs_in_and_locks_out_the_rest(huey):
    started, release = threading.Event(), threading.Event()
    locked = []
    huey.signal(S.SIGNAL_LOCKED)(lambda signal, task: locked.append(task.name))

    @huey.task()
    @lock_task_semaphore(huey, "one-at-a-time", 1, timeout=0.3)
    def slow():
        started.set()
        release.wait(10)  # longer than the timeout: the running task keeps renewing
        return "done"

    first = slow()
    worker = threading.Thread(target=lambda: huey.execute(huey.dequeue()))
    worker.start()
    assert started.wait(10)
    time.sleep(0.5)
    slow()
    assert huey.execute(huey.dequeue()) is None  # locked out (SIGNAL_LOCKED below)
    release.set()
    worker.join(10)
    assert first.get() == "done" and len(locked) == 1
    assert huey.storage.conn.zcard(RedisSemaphore(huey, "one-at-a-time").key) == 0
