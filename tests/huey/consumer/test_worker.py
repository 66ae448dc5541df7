"""One worker driven step by step: batches while tasks are quick, handing back the rest."""

from __future__ import annotations

import contextlib
import threading
import time

from huey import Huey
from huey.consumer.worker import Worker

#: Long enough that a loaded machine never takes it between two quick steps.
HAND_BACK_AFTER = 0.5


def quick_and_slow(huey: Huey):
    @huey.task()
    def quick(n):
        return n

    @huey.task()
    def slow():
        time.sleep(HAND_BACK_AFTER * 1.5)
        return "slow"

    return quick, slow


def test_a_worker_takes_a_batch_while_tasks_are_quick(huey):
    quick, _ = quick_and_slow(huey)
    results = [quick(n) for n in range(12)]
    worker = Worker(
        huey, "w", threading.Event(), fetch_timeout=0.1, hand_back_after=HAND_BACK_AFTER
    )
    worker.step()  # a worker with no history takes one message
    worker.step()  # then, the first having been quick, a batch
    assert huey.storage.inflight_size() > 1  # held, not started: still recorded in flight
    while worker.step() is not None:
        pass
    assert [r.get() for r in results] == list(range(12))
    assert huey.storage.inflight_size() == 0


def test_a_slow_task_hands_the_rest_of_its_batch_back(huey):
    quick, slow = quick_and_slow(huey)
    quick(0)
    slow()
    waiting = [quick(n) for n in range(1, 10)]
    worker = Worker(
        huey, "w", threading.Event(), fetch_timeout=0.1, hand_back_after=HAND_BACK_AFTER
    )
    worker.step()  # quick(0), alone
    worker.step()  # slow(), the first of a batch
    assert huey.storage.queue_size() < len(waiting)
    worker.step()  # the batch is too old: handed back, and one message taken afresh
    assert huey.storage.inflight_size() == 0
    assert huey.storage.queue_size() == len(waiting) - 1
    assert waiting[0].get() == 1


def test_a_stopping_worker_hands_its_batch_back(huey):
    quick, _ = quick_and_slow(huey)
    results = [quick(n) for n in range(10)]
    stop = threading.Event()
    worker = Worker(huey, "w", stop, fetch_timeout=0.1, hand_back_after=HAND_BACK_AFTER)
    worker.step()
    worker.step()
    assert huey.storage.inflight_size() > 0
    stop.set()
    worker.loop()  # runs the task whose start it announced, hands back the rest, returns
    ran = [r.get() for r in results if r.get() is not None]
    assert ran == [0, 1, 2]
    assert huey.storage.inflight_size() == 0
    assert [t.data[0][0] for t in huey.pending()] == list(range(3, 10))


def test_the_next_task_of_a_batch_is_opened_by_the_previous_round_trip(huey):
    quick, _ = quick_and_slow(huey)
    results = [quick(n) for n in range(10)]
    events = huey.events_stream()
    worker = Worker(huey, "w", threading.Event(), fetch_timeout=0.1)
    storage, depth, checks = huey.storage, [0], []
    real_batch, real_peek_or_emit = storage.batch, storage.peek_or_emit

    @contextlib.contextmanager
    def counted_batch():
        depth[0] += 1
        try:
            with real_batch():
                yield
        finally:
            depth[0] -= 1

    storage.batch = counted_batch
    storage.peek_or_emit = lambda *args: checks.append(depth[0] > 0) or real_peek_or_emit(*args)
    while worker.step() is not None:
        pass
    assert [r.get() for r in results] == list(range(10))
    statuses = [next(events)["status"] for _ in range(20)]
    assert statuses == ["started", "finished"] * 10  # each start announced exactly once
    assert len(checks) == 10  # one revocation check per task,
    assert checks.count(True) >= 7  # all but the first of each fetch in the previous batch


def test_a_revoked_task_opened_ahead_is_not_announced(huey):
    quick, _ = quick_and_slow(huey)
    results = [quick(n) for n in range(3)]
    results[2].revoke()
    events = huey.events_stream()
    worker = Worker(huey, "w", threading.Event(), fetch_timeout=0.1)
    while worker.step() is not None:
        pass
    assert [r.get() for r in results[:2]] == [0, 1] and results[2].get() is None
    statuses = [next(events)["status"] for _ in range(5)]
    assert statuses == ["started", "finished", "started", "finished", "revoked"]
