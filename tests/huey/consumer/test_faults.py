"""A consumer under storage faults (OOM, a read-only replica, a SQLite lock held too long, an
outage at start, a foreign queue entry): no loop dies, each distinct error is logged once,
and work scheduled before the fault runs once it ends."""

from __future__ import annotations

import base64
import logging
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from huey import Huey
from huey.consumer import Consumer
from tests.conftest import WAIT, Background
from tests.huey.consumer.test_process import APPS, ConsumerProcess, producer
from tests.waiting import wait_until


@dataclass
class Fault:
    """A storage fault to switch on and off under a running consumer."""

    huey: Huey
    start: Callable[[], object]
    end: Callable[[], object]
    text: str  # what the backend says while the fault lasts


def _redis_fault(server, kind: str) -> Fault:
    name = f"faults-{uuid.uuid4().hex[:6]}"
    admin = redis.Redis.from_url(server.url)
    admin.config_set("maxmemory-policy", "noeviction")
    if kind == "oom":
        start, end = (
            lambda: admin.config_set("maxmemory", 1),
            lambda: admin.config_set("maxmemory", 0),
        )
    else:  # a replica of a master that never answers refuses writes and keeps its data
        start, end = lambda: admin.replicaof("127.0.0.1", 1), lambda: admin.replicaof("NO", "ONE")
    return Fault(Huey(name, url=server.url), start, end, "OOM" if kind == "oom" else "READONLY")


def _sqlite_lock_fault(path: str) -> Fault:
    holder = sqlite3.connect(path, isolation_level=None)
    return Fault(
        Huey(f"faults-{uuid.uuid4().hex[:6]}", url=f"sqlite:///{path}", timeout=0.2),
        lambda: holder.execute("BEGIN IMMEDIATE"),  # held far past the 0.2 s busy timeout
        lambda: holder.execute("ROLLBACK"),
        "locked",
    )


@pytest.fixture(params=["oom", "readonly", "sqlite-lock"])
def fault(request, tmp_path) -> Iterator[Fault]:
    if request.param == "sqlite-lock":
        made = _sqlite_lock_fault(str(tmp_path / "huey.db"))
    else:
        made = _redis_fault(request.getfixturevalue("private_redis"), request.param)
    yield made
    made.huey.storage.close()


def _running(consumer: Consumer) -> Background:
    runner = Background(consumer.run)
    runner.start()
    return runner


def _stop(consumer: Consumer, runner: Background) -> None:
    consumer._on_stop_signal(signal.SIGTERM, None)  # what SIGTERM does
    runner.finish(WAIT * 3)


@pytest.mark.slow
def test_the_consumer_rides_out_a_storage_fault(fault: Fault, caplog) -> None:
    caplog.set_level(logging.INFO, logger="huey")
    add = fault.huey.task(name="add")(lambda a, b: a + b)
    consumer = Consumer(fault.huey, workers=2, heartbeat_timeout=1.5)
    runner = _running(consumer)
    try:
        assert add(1, 2).get(blocking=True, timeout=WAIT) == 3
        scheduled = add.schedule(args=(2, 3), delay=1.0)  # falls due during the fault
        fault.start()
        assert wait_until(lambda: "heartbeat: storage error" in caplog.text, WAIT * 2)
        # Past the scheduled task's time, and several retries of each loop. (Under OOM a
        # Lua script or a fetch already blocked may still get through: the task can be
        # moved or taken before its result write fails; it runs again after the fault.)
        time.sleep(1.5)
        fault.end()
        recovered = time.time()

        assert scheduled.get(blocking=True, timeout=WAIT * 2) == 5
        assert add(3, 4).get(blocking=True, timeout=WAIT) == 7
        worker_id = f"{consumer.consumer_id}:0"
        heartbeats = fault.huey.storage.heartbeats
        assert wait_until(lambda: heartbeats().get(worker_id, 0) > recovered, WAIT)
        assert runner.is_alive()
        assert all(handle.is_alive() for handle, *_ in consumer._workers.values())
        assert all(thread.is_alive() for _, thread in consumer._services.values())
        assert wait_until(lambda: "storage is back" in caplog.text, WAIT)
        lines = [r.getMessage() for r in caplog.records if fault.text in r.getMessage()]
        assert lines and len(lines) == len(set(lines)), "each loop logs each error once"
    finally:
        _stop(consumer, runner)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_service_thread_is_restarted_and_its_death_logged(caplog) -> None:
    caplog.set_level(logging.INFO, logger="huey")
    huey = Huey(f"faults-{uuid.uuid4().hex[:6]}", url="memory://")
    add = huey.task(name="add")(lambda a, b: a + b)
    consumer = Consumer(huey, workers=1)
    consumer.start()
    try:
        due = huey.storage.enqueue_due
        deaths = []

        def dies_once(timestamp):  # a BaseException gets past the loop's error handling
            if not deaths:
                deaths.append(timestamp)
                raise SystemExit("scheduler killed by the test")
            return due(timestamp)

        huey.storage.enqueue_due = dies_once
        scheduled = add.schedule(args=(1, 1), delay=0.2)
        scheduler = consumer._services["huey-scheduler"][1]
        assert wait_until(lambda: not scheduler.is_alive(), WAIT)
        consumer.supervise()  # one pass of the supervising loop
        assert "service thread huey-scheduler died; restarting it" in caplog.text
        assert scheduled.get(blocking=True, timeout=WAIT) == 2
    finally:
        consumer.stop(graceful=False)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_foreign_queue_entry_goes_to_the_error_store(backend, tmp_path, request) -> None:
    name = f"faults-{uuid.uuid4().hex[:6]}"
    if backend == "sqlite":
        huey = Huey(name, url=f"sqlite:///{tmp_path / 'huey.db'}")
        huey.storage.flush_queue()  # creates the tables
        with sqlite3.connect(tmp_path / "huey.db") as conn:  # a TEXT value, not a BLOB
            conn.execute("INSERT INTO huey_queue (name, data) VALUES (?, 'foreign')", (name,))
    else:
        server = request.getfixturevalue("redis_server")
        huey = Huey(name, url=server.url)
        redis.Redis.from_url(server.url).set(f"huey:{{{name}}}:queue", b"foreign")
    add = huey.task(name="add")(lambda a, b: a + b)
    consumer = Consumer(huey, workers=1)
    consumer.start()
    try:
        assert wait_until(lambda: huey.storage.error_count() == 1, WAIT)
        assert base64.b64decode(huey.errors()[0]["payload"]) == b"foreign"
        assert add(1, 2).get(blocking=True, timeout=WAIT) == 3  # the queue moved on
    finally:
        consumer.stop(graceful=False)
        huey.flush()


@pytest.mark.slow
def test_a_consumer_waits_out_redis_outages_at_start_and_while_running(private_redis, tmp_path):
    name = f"outage-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "TEST_HUEY_URL": private_redis.url,
        "TEST_HUEY_NAME": name,
        "TEST_MARKS_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    private_redis.stop()
    consumer = ConsumerProcess(env, "-w", "2", "--heartbeat-timeout", "2")
    try:
        assert wait_until(lambda: "storage unavailable" in consumer.output(), WAIT * 2)
        assert not wait_until(lambda: consumer.process.poll() is not None, 2.0)  # still waiting
        private_redis.start()
        app = producer(name, private_redis.url)
        assert app.add(2, 3).get(blocking=True, timeout=WAIT * 3) == 5
        assert wait_until(lambda: "storage is back" in consumer.output(), WAIT * 2)

        private_redis.stop()  # an outage under the running consumer
        assert wait_until(lambda: "heartbeat: storage unavailable" in consumer.output(), WAIT)
        time.sleep(2.0)  # several retries of each loop
        private_redis.start()
        assert app.add(3, 4).get(blocking=True, timeout=WAIT * 3) == 7
        assert consumer.process.poll() is None
        # Each loop logged each distinct error once (lines without their timestamps).
        lines = [
            line.split("] ", 1)[-1]
            for line in consumer.output().splitlines()
            if "storage unavailable" in line
        ]
        assert lines and len(lines) == len(set(lines)), lines
    finally:
        consumer.stop()
