"""huey 3's task timeouts: ``timeout=`` on the task or the call, travelling in the message,
enforced by an alarm in process workers and by check_timeout() plus a post-run check in
thread workers; a timed-out run fails with TaskTimeout (retries apply), SIGNAL_TIMEOUT."""

from __future__ import annotations

import json
import time

import pytest

from huey import MemoryHuey, TaskException
from huey import signals as S
from huey.message import decode, read_metadata
from tests.waiting import wait_until

WAIT = 30.0


@pytest.fixture
def timeouts(huey):
    """The task id of every SIGNAL_TIMEOUT the instance sends in this process (huey 3's
    receiver takes ``(signal, task)`` only)."""
    heard: list[str] = []

    @huey.signal(S.SIGNAL_TIMEOUT)
    def timed_out(signal, task):
        heard.append(task.id)

    return heard


def _steps(message: bytes) -> list:
    """The metadata JSON of an unsigned message."""
    size = int.from_bytes(message[2:6], "big")
    return json.loads(message[6 : 6 + size])


def test_the_timeout_travels_in_the_message_and_is_absent_when_unset():
    huey = MemoryHuey(utc=False)

    @huey.task(timeout=2.5)
    def slow():
        pass

    @huey.task(priority=3)
    def ranked():
        pass

    timed = huey.serialize_task(slow.s())
    assert _steps(timed)[0][6:] == [None, None, None, 2.5]
    assert read_metadata(timed, huey.serializer).timeout == 2.5
    assert huey.deserialize_task(timed).timeout == 2.5
    plain = huey.serialize_task(ranked.s())
    assert _steps(plain)[0][6:] == [3, None]  # the layout of messages without one
    assert decode(plain, huey.serializer).timeout is None


def test_schedule_timeout_overrides_the_task_default():
    huey = MemoryHuey(utc=False)

    @huey.task(timeout=10)
    def job():
        pass

    job.schedule(delay=60, timeout=1)
    job.schedule(delay=60)
    assert sorted(task.timeout for task in huey.scheduled()) == [1, 10]


def test_an_in_process_run_is_interrupted_by_the_alarm():
    huey = MemoryHuey(utc=False)
    heard = []
    huey.signal(S.SIGNAL_TIMEOUT)(lambda signal, task: heard.append(task.id))

    @huey.task(timeout=0.2)
    def forever():
        time.sleep(WAIT)

    result = forever()
    assert huey.execute(huey.dequeue()) is None
    assert heard == [result.id]
    with pytest.raises(TaskException, match="TaskTimeout"):
        result.get()


def test_a_task_without_timeout_has_infinite_time_remaining():
    huey = MemoryHuey(utc=False)
    seen = []

    @huey.task(context=True)
    def job(task=None):
        seen.append((task.time_remaining, task.is_timed_out))
        task.check_timeout()
        return "ok"

    result = job()
    huey.execute(huey.dequeue())
    assert seen == [(float("inf"), False)] and result.get() == "ok"


def test_a_thread_worker_task_checks_its_time_and_is_retried(huey, consumer, timeouts):
    runs = []

    @huey.task(timeout=0.3, retries=1, context=True)
    def cooperative(task=None):
        runs.append(task.time_remaining)
        while True:
            task.check_timeout()
            time.sleep(0.02)

    result = cooperative()
    consumer(workers=1)
    with pytest.raises(TaskException, match="TaskTimeout"):
        result.get(blocking=True, timeout=WAIT)  # the first attempt's error, as huey 3
    assert wait_until(lambda: len(timeouts) == 2, WAIT)  # then the retry's
    assert len(runs) == 2 and all(remaining <= 0.3 for remaining in runs)
    assert set(timeouts) == {result.id}


def test_a_thread_worker_run_that_overran_fails_after_it_returns(huey, consumer, timeouts):
    @huey.task(timeout=0.1)
    def ignores_its_time():
        time.sleep(0.3)
        return "too late"

    @huey.task(timeout=WAIT)
    def in_time():
        return "on time"

    late, prompt = ignores_its_time(), in_time()
    consumer(workers=2)
    with pytest.raises(TaskException, match="TaskTimeout"):
        late.get(blocking=True, timeout=WAIT)
    assert prompt.get(blocking=True, timeout=WAIT) == "on time"
    assert wait_until(lambda: timeouts == [late.id], WAIT)


@pytest.mark.slow
@pytest.mark.parametrize("storage_url", ["sqlite", "file", "redis"], indirect=True)
def test_a_process_worker_interrupts_a_task_past_its_timeout(huey, consumer):
    @huey.signal(S.SIGNAL_TIMEOUT)
    def timed_out(signal, task):  # runs in the worker process
        huey.put(f"timeout-{task.id}", signal)

    @huey.task(timeout=0.5, retries=1)
    def forever():
        time.sleep(WAIT * 10)  # never returns unless interrupted

    result = forever()
    consumer(workers=1, worker_type="process")
    with pytest.raises(TaskException, match="TaskTimeout"):
        result.get(blocking=True, timeout=WAIT)
    # The receiver runs after the failure is stored: wait for what it writes.
    assert wait_until(lambda: huey.get(f"timeout-{result.id}") == S.SIGNAL_TIMEOUT, WAIT)
