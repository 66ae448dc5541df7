"""Real consumer processes (the huey_consumer command) against real storage:
crashes, signals, restarts of Redis, poisoned messages, the global scheduler."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from huey import Huey
from huey.task import utcnow
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

APPS = Path(__file__).parent / "apps"


class ConsumerProcess:
    """One ``huey_consumer`` process running tests/huey/consumer/apps/procapp.py."""

    def __init__(self, env: dict, *flags: str) -> None:
        self.log = Path(env["TEST_MARKS_DIR"]) / f"consumer-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "procapp.huey", *flags],
            env=env,
            cwd=APPS,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def producer(name: str, url: str) -> SimpleNamespace:
    """The enqueuing side: its own Huey with tasks of the same names as procapp's."""
    huey = Huey(name, url=url)
    tasks = {n: huey.task(name=n)(lambda *args: None) for n in ("add", "slow", "pid")}
    return SimpleNamespace(huey=huey, **tasks)


@pytest.fixture(params=["sqlite", "file", "redis"])
def app(request, tmp_path, redis_server):
    """(producer Huey, consumer launcher, marks dir) on the parametrized backend."""
    name = f"proc-{uuid.uuid4().hex[:6]}"
    url = {
        "redis": redis_server.url,
        "sqlite": f"sqlite:///{tmp_path}/q.db",
        "file": f"file://{tmp_path}/files",
    }[request.param]
    env = {
        **os.environ,
        "TEST_HUEY_URL": url,
        "TEST_HUEY_NAME": name,
        "TEST_MARKS_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    huey = producer(name, url)
    started: list[ConsumerProcess] = []

    def start(*flags: str, **extra_env: str) -> ConsumerProcess:
        process = ConsumerProcess({**env, **extra_env}, "--heartbeat-timeout", "2", *flags)
        started.append(process)
        return process

    yield huey, start, tmp_path
    for process in started:
        process.stop()
    huey.huey.flush()


def test_tasks_complete_in_a_real_consumer(app):
    procapp, start, _ = app
    start("-w", "2")
    results = [procapp.add(i, 1) for i in range(10)]
    assert [r.get(blocking=True, timeout=20) for r in results] == [i + 1 for i in range(10)]


def test_kill_9_mid_task_loses_nothing(app):
    procapp, start, marks = app
    victim = start("-w", "1")
    result = procapp.slow(1.0, "crash")
    assert wait_until(lambda: (marks / "crash.started").exists())
    victim.signal(signal.SIGKILL)
    victim.wait()
    assert not (marks / "crash.finished").exists()
    start("-w", "1")  # a new consumer requeues the dead one's task once its heartbeat expires
    assert result.get(blocking=True, timeout=30) == "crash"
    assert (marks / "crash.finished").exists()


def test_kill_9_of_a_consumer_with_process_workers_loses_nothing(app):
    procapp, start, marks = app
    victim = start("-w", "2", "-k", "process")
    result = procapp.slow(1.0, "crash-process")
    queued = procapp.add(2, 2)  # waiting behind, or taken by the other worker
    assert wait_until(lambda: (marks / "crash-process.started").exists())
    victim.signal(signal.SIGKILL)
    victim.wait()
    start("-w", "2", "-k", "process")  # requeues the dead one's work once its beat expires
    assert result.get(blocking=True, timeout=30) == "crash-process"
    assert queued.get(blocking=True, timeout=30) == 4


def test_sigterm_lets_running_task_finish(app):
    procapp, start, marks = app
    consumer = start("-w", "1", "--shutdown-timeout", "10")
    result = procapp.slow(1.5, "graceful")
    assert wait_until(lambda: (marks / "graceful.started").exists())
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(20) == 0
    assert (marks / "graceful.finished").exists()
    assert result.get() == "graceful"


def test_second_signal_stops_at_once_and_requeues(app):
    procapp, start, marks = app
    consumer = start("-w", "1", "--shutdown-timeout", "30")
    procapp.slow(5, "interrupted")
    assert wait_until(lambda: (marks / "interrupted.started").exists())
    consumer.signal(signal.SIGINT)
    time.sleep(0.3)
    consumer.signal(signal.SIGINT)
    assert consumer.wait(10) == 0
    assert not (marks / "interrupted.finished").exists()
    assert procapp.huey.storage.queue_size() == 1  # back on the queue for the next consumer


def test_sighup_restarts_workers_without_losing_tasks(app):
    procapp, start, marks = app
    consumer = start("-w", "1", "--shutdown-timeout", "10")
    first = procapp.slow(1.0, "before-hup")
    assert wait_until(lambda: (marks / "before-hup.started").exists())
    consumer.signal(signal.SIGHUP)
    second = procapp.add(2, 3)
    assert first.get(blocking=True, timeout=20) == "before-hup"
    assert second.get(blocking=True, timeout=20) == 5
    assert consumer.process.poll() is None


def test_process_workers(app):
    procapp, start, _ = app
    consumer = start("-w", "2", "-k", "process")
    pids = {procapp.pid().get(blocking=True, timeout=20) for _ in range(6)}
    assert pids and consumer.process.pid not in pids  # tasks ran in worker processes


def test_poisoned_message_goes_to_error_store(app):
    procapp, start, _ = app
    procapp.huey.storage.enqueue(b"\x80\x04not a pickle at all")
    start("-w", "1")
    ok = procapp.add(1, 1)
    assert ok.get(blocking=True, timeout=20) == 2  # the consumer kept running
    errors = procapp.huey.errors()
    assert len(errors) == 1 and errors[0]["payload"]


def test_bad_app_path_is_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "huey.bin.huey_consumer", "no_such_module.huey"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "cannot import module 'no_such_module'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flags, expected", [((), 1), (("-g",), 2)])
def test_global_scheduler_enqueues_once_per_minute(app, flags, expected):
    """Two consumers starting in the same minute both check that minute's periodic
    tasks: with the global scheduler one enqueues, with -g both do."""
    procapp, start, marks = app
    if 60 - time.time() % 60 < 15:  # too close to a minute boundary to start both in time
        time.sleep(60 - time.time() % 60 + 0.5)
    for _ in range(2):
        start("-w", "1", *flags, TEST_PERIODIC="1")
    ticks = lambda: len(list(marks.glob("tick-*")))  # noqa: E731
    assert wait_until(lambda: ticks() >= expected, 20)
    time.sleep(1.5)  # room for a wrong extra tick to show up
    assert ticks() == expected


def test_no_periodic_flag_enqueues_nothing(app):
    procapp, start, marks = app
    consumer = start("-w", "1", "-n", TEST_PERIODIC="1")
    assert procapp.add(1, 1).get(blocking=True, timeout=20) == 2  # it is up and running
    time.sleep(1.0)
    assert list(marks.glob("tick-*")) == [] and consumer.process.poll() is None


def test_redis_restart_under_running_consumer(tmp_path, redis_server):
    url = redis_server.url
    name = f"restart-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "TEST_HUEY_URL": url,
        "TEST_HUEY_NAME": name,
        "TEST_MARKS_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    consumer = ConsumerProcess(env, "-w", "2")
    huey = Huey(name, url=url)

    @huey.task(name="add")
    def add(a, b):
        return a + b

    try:
        assert add(1, 2).get(blocking=True, timeout=20) == 3
        redis_server.stop()
        assert wait_until(lambda: "storage unavailable" in consumer.output(), 20)
        assert consumer.process.poll() is None  # still running, backing off
        redis_server.start()
        result = None
        deadline = time.monotonic() + 30
        while result is None and time.monotonic() < deadline:
            try:
                result = add(2, 3).get(blocking=True, timeout=5)
            except Exception:
                time.sleep(0.2)
        assert result == 5
        # Logged by whichever loop next reaches the storage: not necessarily before the result.
        assert wait_until(lambda: "storage is back" in consumer.output(), 30)
    finally:
        consumer.stop()


def test_dead_worker_process_is_replaced_and_its_task_requeued(app):
    procapp, start, marks = app
    consumer = start("-w", "1", "-k", "process")
    result = procapp.slow(1.0, "worker-killed")
    started = marks / "worker-killed.started"
    assert wait_until(lambda: started.exists() and started.read_text())  # written, not just made
    worker_pid = int(started.read_text())
    assert worker_pid != consumer.process.pid
    os.kill(worker_pid, signal.SIGKILL)
    assert result.get(blocking=True, timeout=30) == "worker-killed"
    assert int((marks / "worker-killed.finished").read_text()) != worker_pid
    assert wait_until(lambda: "died; requeueing" in consumer.output())


def test_greenlet_workers(app):
    procapp, start, _ = app
    start("-w", "4", "-k", "greenlet")
    results = [procapp.add(i, i) for i in range(8)]
    assert [r.get(blocking=True, timeout=20) for r in results] == [2 * i for i in range(8)]


@pytest.mark.parametrize("flags", [(), ("-o",)])
def test_eta_follows_the_consumer_clock(app, flags, monkeypatch):
    """UTC by default; with -o, ETAs given in local time (convert_utc=False) are honoured.
    The consumer runs in a zone 5.5 h from UTC, so the wrong clock would run the task
    at once (too early) or hours late."""
    import datetime

    procapp, start, _ = app
    start("-w", "1", *flags, TZ="Asia/Kolkata")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        now = datetime.datetime.now() if flags else utcnow()
    finally:
        monkeypatch.undo()
        time.tzset()
    began = time.monotonic()
    result = procapp.add.schedule(
        args=(1, 2), eta=now + datetime.timedelta(seconds=1.5), convert_utc=False
    )
    assert result.get(blocking=True, timeout=20) == 3
    assert time.monotonic() - began >= 1.0


def test_process_workers_exit_when_their_consumer_is_killed(app):
    procapp, start, _ = app
    consumer = start("-w", "2", "-k", "process")
    assert procapp.add(1, 1).get(blocking=True, timeout=20) == 2
    children = subprocess.run(
        ["pgrep", "-P", str(consumer.process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) == 2
    consumer.signal(signal.SIGKILL)
    consumer.wait()

    def gone(pid: str) -> bool:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"

    assert wait_until(lambda: all(gone(pid) for pid in children), 10)


def test_a_stopped_worker_process_is_replaced_by_the_health_check(app):
    procapp, start, _ = app
    consumer = start("-w", "1", "-k", "process", "-s", "10", "-c", "0.2", "--stuck-timeout", "3")
    worker_pid = procapp.pid().get(blocking=True, timeout=20)
    assert wait_until(lambda: Path(f"/proc/{worker_pid}/stat").read_text().split()[2] == "S")
    time.sleep(0.5)  # back in its fetch, not between a task's result and its next loop
    os.kill(worker_pid, signal.SIGSTOP)  # frozen, alive: the worker is stuck
    try:
        assert procapp.add(2, 3).get(blocking=True, timeout=30) == 5
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker_pid, signal.SIGKILL)
    assert "is stuck outside a task; replacing it" in consumer.output()


def test_disable_health_check_leaves_a_dead_worker_dead(app):
    procapp, start, _ = app
    consumer = start("-w", "1", "-k", "process", "-C", "-c", "0.2")
    worker_pid = procapp.pid().get(blocking=True, timeout=20)
    os.kill(worker_pid, signal.SIGKILL)

    def replaced() -> bool:
        ps = ["pgrep", "-P", str(consumer.process.pid)]
        children = subprocess.run(ps, capture_output=True, text=True).stdout.split()
        return any(int(pid) != worker_pid for pid in children)

    assert not wait_until(replaced, timeout=3)
    assert "died" not in consumer.output()


def test_max_tasks_replaces_worker_processes(app):
    procapp, start, _ = app
    consumer = start("-w", "1", "-k", "process", "-M", "2", "-c", "0.2")
    results = [procapp.pid() for _ in range(6)]
    pids = [r.get(blocking=True, timeout=20) for r in results]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[4] == pids[5]
    assert len(set(pids)) == 3, consumer.output()
    assert "ran its --max-tasks; replacing it" in consumer.output()
