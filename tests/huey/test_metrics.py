"""What consumers count and publish, and read_metrics reading it back on every backend."""

from __future__ import annotations

import datetime
import threading
import time

import pytest

from huey import Huey, crontab
from huey.consumer import Consumer
from huey.consumer.counters import Counters, Publisher, Tally
from huey.consumer.recovery import Recovery
from huey.consumer.scheduler import Scheduler
from huey.exceptions import TaskLockedException
from huey.execution import Execution, Outcome
from huey.message import read_metadata
from huey.metrics import BUCKETS, ConsumerMetrics, TaskMetrics, read_metrics, record_key
from tests.waiting import wait_until

EMPTY = (0,) * (len(BUCKETS) + 1)


def buckets(**at: int) -> tuple[int, ...]:
    """A histogram with counts at bucket indexes given as b0=.., b14=.."""
    counts = list(EMPTY)
    for name, count in at.items():
        counts[int(name[1:])] = count
    return tuple(counts)


def test_counters_count_each_outcome_and_bucket_each_duration() -> None:
    counters = Counters(["a", "b"])
    counters.ran("a", Execution(Outcome.FINISHED, duration=0.005))  # on a bound: that bucket
    counters.ran("a", Execution(Outcome.FINISHED, duration=0.007))
    counters.ran("a", Execution(Outcome.FAILED, exception=ValueError(), duration=1000.0))
    counters.ran("a", Execution(Outcome.RETRYING, exception=ValueError(), duration=0.2))
    counters.ran("a", Execution(Outcome.RETRYING, exception=TaskLockedException(), duration=0))
    counters.ran("a", Execution(Outcome.REVOKED))
    counters.ran("a", Execution(Outcome.CANCELED))
    counters.count("b", "enqueued", 2)
    counters.ran("not registered", Execution(Outcome.FINISHED))
    assert counters.snapshot() == {
        "a": TaskMetrics(
            started=5,
            finished=2,
            failed=2,
            retried=2,
            revoked=1,
            duration_sum=pytest.approx(1000.212),
            duration_buckets=buckets(b0=2, b1=1, b5=1, b14=1),
        ),
        "b": TaskMetrics(enqueued=2),
    }


def test_task_metrics_add_up_and_give_bucket_percentiles() -> None:
    fast = TaskMetrics(finished=9, duration_sum=0.09, duration_buckets=buckets(b1=9))
    slow = TaskMetrics(failed=1, duration_sum=20.0, duration_buckets=buckets(b11=1))
    total = fast + slow
    assert (total.finished, total.failed, total.duration_sum) == (9, 1, 20.09)
    assert total.percentile(0.5) == 0.01
    assert total.percentile(0.95) == 30.0
    assert TaskMetrics().percentile(0.5) is None


def test_a_record_round_trips_as_json_and_a_bad_one_reads_as_absent() -> None:
    record = ConsumerMetrics(
        "h:1:x", 5.0, "h", 1, 2, "thread", 1.0, {"t": TaskMetrics(started=1, finished=1)}
    )
    assert ConsumerMetrics.from_json(record.to_json(), 5.0) == record
    huge_pid = record.to_json().replace(b'"pid": 1', b'"pid": 1e999')  # int(inf) overflows
    for bad in [
        b"\x80\x04pickle",
        b"[]",
        b'{"version": 1}',
        record.to_json().replace(b"1", b"9"),
        huge_pid,
    ]:
        assert ConsumerMetrics.from_json(bad, 5.0) is None


def test_a_running_consumer_publishes_its_counts_and_removes_them_at_stop(huey, consumer):
    @huey.task()
    def ok(n):
        return n

    @huey.task()
    def broken():
        raise ValueError("broken")

    @huey.task(retries=1)
    def flaky():
        raise ValueError("always")

    revoked = ok.s(0)
    huey.revoke(revoked)
    huey.enqueue(revoked)
    results = [ok(n) for n in range(3)] + [broken(), flaky()]
    c = consumer(workers=2)
    for result in results[:3]:
        result.get(blocking=True, timeout=30)
    expected = {
        ok.name: (0, 3, 3, 0, 0, 1),
        broken.name: (0, 1, 0, 1, 0, 0),
        flaky.name: (0, 2, 0, 2, 1, 0),
    }

    def counts() -> dict:
        tasks = read_metrics(huey).tasks
        fields = ("enqueued", "started", "finished", "failed", "retried", "revoked")
        return {name: tuple(getattr(t, f) for f in fields) for name, t in tasks.items()}

    assert wait_until(lambda: counts() == expected, 30), counts()
    metrics = read_metrics(huey)
    (only,) = metrics.consumers
    assert (only.consumer_id, only.workers, only.worker_type) == (c.consumer_id, 2, "thread")
    assert sum(metrics.tasks[ok.name].duration_buckets) == 3
    assert (metrics.queue_size, metrics.inflight_size, metrics.oldest_pending_age) == (0, 0, None)
    c.stop()
    assert read_metrics(huey).consumers == []
    assert huey.storage.peek_data(record_key(c.consumer_id)) is None


def test_process_workers_count_in_shared_memory(tmp_path):
    huey = Huey("procs", url=f"sqlite:///{tmp_path}/procs.db")

    @huey.task()
    def ok(n):
        return n

    results = [ok(n) for n in range(4)]
    c = Consumer(huey, workers=2, worker_type="process", heartbeat_timeout=1.5)
    c.start()
    try:
        assert [r.get(blocking=True, timeout=20) for r in results] == [0, 1, 2, 3]
        assert wait_until(
            lambda: read_metrics(huey).tasks.get(ok.name, TaskMetrics()).finished == 4
        )
    finally:
        c.stop()


def test_oldest_pending_age_counts_from_enqueue_or_eta(huey):
    @huey.task()
    def job():
        return 1

    job()
    first = read_metadata(huey.storage.enqueued_items()[0], huey.serializer)
    assert read_metrics(huey, now=first.enqueued + 7.5).oldest_pending_age == pytest.approx(7.5)

    huey.flush()
    eta = datetime.datetime(2030, 1, 1)
    late = job.s()
    late.execute_time = eta
    huey.storage.enqueue(huey.serialize_task(late))  # as the scheduler moves it when due
    later = datetime.datetime(2030, 1, 1, 0, 1).replace(tzinfo=datetime.timezone.utc).timestamp()
    assert read_metrics(huey, now=later).oldest_pending_age == pytest.approx(60.0)
    assert read_metrics(huey, now=later).queue_size == 1


def test_recovery_counts_a_dead_consumers_tasks_as_requeued_and_drops_its_record(huey):
    @huey.task()
    def job():
        return 1

    job()
    dead = "lost-host:1:aaaa"
    huey.storage.fetch(f"{dead}:0", timeout=1)
    huey.storage.heartbeat(f"{dead}:0", 100.0)
    huey.storage.put_data(record_key(dead), ConsumerMetrics(dead, 100.0).to_json())
    publisher = Publisher("me:2:bbbb", Tally(huey.task_names(), lambda n: [0.0] * n), 1, "thread")
    recovery = Recovery(huey, lambda: ["me:2:bbbb:0"], threading.Event(), 30.0, publisher)
    assert recovery.step(time.time()) == 1
    assert huey.storage.peek_data(record_key(dead)) is None
    recovery.step(time.time())  # publishes what it counted
    (me,) = read_metrics(huey).consumers
    assert me.consumer_id == "me:2:bbbb"
    assert me.tasks == {job.name: TaskMetrics(requeued=1)}


def test_the_scheduler_counts_the_periodic_tasks_it_enqueues(huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        return 1

    counters = Counters(huey.task_names())
    scheduler = Scheduler(huey, "c1", threading.Event(), counters=counters)
    scheduler.enqueue_periodic(datetime.datetime(2030, 6, 1, 12, 0))
    assert counters.snapshot() == {tick.name: TaskMetrics(enqueued=1)}
