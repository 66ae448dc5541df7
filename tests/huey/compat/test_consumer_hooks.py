"""on_startup/on_shutdown run in each worker; create_consumer builds a working consumer."""

from __future__ import annotations

import os
import threading

import pytest

from huey import SqliteHuey
from huey.consumer import Consumer
from tests.waiting import wait_until

WAIT = 30.0


@pytest.mark.slow
def test_startup_and_shutdown_hooks_run_once_per_worker(huey):
    started, stopped = [], []

    @huey.on_startup()
    def open_resources():
        started.append(threading.current_thread().name)

    @huey.on_shutdown()
    def close_resources():
        stopped.append(threading.current_thread().name)

    @huey.task()
    def job():
        return "ran"

    consumer = huey.create_consumer(workers=2, heartbeat_timeout=3)
    assert isinstance(consumer, Consumer) and consumer.options.workers == 2
    consumer.start()
    try:
        assert job().get(blocking=True, timeout=WAIT) == "ran"
        assert wait_until(lambda: len(started) == 2)
    finally:
        consumer.stop()
    assert wait_until(lambda: len(stopped) == 2)
    assert sorted(stopped) == sorted(started) and len(set(started)) == 2


def test_a_failing_startup_hook_does_not_stop_the_worker(huey, consumer):
    @huey.on_startup()
    def broken():
        raise RuntimeError("no database")

    @huey.task()
    def job():
        return "ran"

    consumer(workers=1)
    assert job().get(blocking=True, timeout=WAIT) == "ran"
    assert huey.unregister_on_startup("broken") and not huey.unregister_on_startup("broken")


def test_a_local_time_huey_gets_a_local_time_consumer(tmp_path):
    local = SqliteHuey("local", filename=str(tmp_path / "l.db"), utc=False)
    assert Consumer(local).options.utc is False
    assert Consumer(local, utc=True).options.utc is False  # huey_consumer's default
    assert SqliteHuey("u", filename=str(tmp_path / "u.db")).create_consumer().options.utc


@pytest.mark.slow
@pytest.mark.parametrize("storage_url", ["sqlite", "file", "redis"], indirect=True)
def test_startup_hooks_run_in_each_worker_process(huey, consumer):
    @huey.on_startup()
    def mark_process():
        huey.put(f"worker-up-{os.getpid()}", os.getpid())

    def marks() -> list[str]:
        return [key for key in huey.all_results() if key.startswith("worker-up-")]

    consumer(workers=2, worker_type="process")
    assert wait_until(lambda: len(marks()) == 2, WAIT)
    assert str(os.getpid()) not in {k.rsplit("-", 1)[1] for k in marks()}
