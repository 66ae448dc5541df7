"""The scheduler driven by an explicit clock: due tasks, periodic tasks, global claims."""

from __future__ import annotations

import datetime

from huey import Huey, crontab
from huey.consumer.scheduler import CLAIM_LIFETIME, STALE_PASS, Scheduler

NOON = datetime.datetime(2030, 6, 1, 12, 0, 0)


class NoStop:
    def is_set(self) -> bool:
        return False

    def wait(self, timeout=None) -> bool:
        return False


def scheduler(huey: Huey, consumer_id: str = "c1", **options) -> Scheduler:
    return Scheduler(huey, consumer_id, NoStop(), **options)


def test_due_tasks_move_to_queue_and_sleep_until_next(huey):
    @huey.task()
    def job(n):
        return n

    job.schedule(args=(1,), eta=NOON + datetime.timedelta(seconds=10), convert_utc=False)
    job.schedule(args=(2,), eta=NOON + datetime.timedelta(seconds=30), convert_utc=False)
    s = scheduler(huey, periodic=False)
    assert s.step(NOON) == 10.0  # sleeps exactly until the first ETA
    assert huey.storage.queue_size() == 0
    sleep = s.step(NOON + datetime.timedelta(seconds=10, milliseconds=1))
    assert [t.data for t in huey.pending()] == [((1,), {})]
    assert abs(sleep - 19.999) < 0.01
    s.step(NOON + datetime.timedelta(seconds=31))
    assert huey.storage.schedule_size() == 0 and huey.storage.queue_size() == 2


def test_sleeps_until_next_minute_when_nothing_is_scheduled(huey):
    s = scheduler(huey)
    assert s.step(NOON + datetime.timedelta(seconds=45, milliseconds=500)) == 14.5


def test_periodic_tasks_checked_once_per_minute_with_that_minute(huey):
    seen = []

    def every_other_minute(dt):
        seen.append(dt)
        return dt.minute % 2 == 0

    @huey.periodic_task(every_other_minute)
    def tick():
        return "tick"

    s = scheduler(huey)
    for second in (0, 1, 30, 59):
        s.step(NOON + datetime.timedelta(seconds=second))
    s.step(NOON + datetime.timedelta(minutes=1, seconds=2))
    s.step(NOON + datetime.timedelta(minutes=2))
    assert seen == [
        NOON,
        NOON + datetime.timedelta(minutes=1),
        NOON + datetime.timedelta(minutes=2),
    ]
    assert [t.name for t in huey.pending()] == [tick.name, tick.name]


def test_global_scheduler_enqueues_once_across_consumers(huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        pass

    consumers = [scheduler(huey, f"c{i}") for i in range(3)]
    for minute in range(3):
        for s in consumers:
            s.step(NOON + datetime.timedelta(minutes=minute, seconds=1))
    assert huey.storage.queue_size() == 3  # once per minute, not once per consumer


def test_without_global_scheduler_each_consumer_enqueues(huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        pass

    consumers = [scheduler(huey, f"c{i}", global_scheduler=False) for i in range(2)]
    for s in consumers:
        s.step(NOON)
    assert huey.storage.queue_size() == 2


def test_no_periodic_enqueues_nothing(huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        pass

    scheduler(huey, periodic=False).step(NOON)
    assert huey.storage.queue_size() == 0


def test_old_claims_are_cleaned_up(huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        pass

    s = scheduler(huey)
    for minute in range(30):
        s.step(NOON + datetime.timedelta(minutes=minute))
    claims = [k for k in huey.storage.result_items() if k.startswith("huey.periodic.")]
    assert len(claims) == CLAIM_LIFETIME // datetime.timedelta(minutes=1)
    assert huey.all_results() == {}  # claims are not results


def test_revoked_periodic_task_is_enqueued_but_not_run(huey):
    from huey.execution import Outcome, execute

    @huey.periodic_task(crontab())
    def tick():
        return 1

    tick.revoke(revoke_once=True)
    scheduler(huey).step(NOON)
    task = huey.deserialize_task(huey.storage.dequeue())
    assert execute(huey, task).outcome is Outcome.REVOKED
    assert not tick.is_revoked()


def _every_minute(huey: Huey):
    @huey.periodic_task(crontab(minute="*"))
    def tick():
        pass

    return tick


def test_a_lagging_hosts_pass_for_an_earlier_minute_enqueues_nothing(huey):
    """The leading host has claimed and moved on; the lagging host's pass for a minute
    already run (late by skew, or stalled) must not enqueue it again."""
    _every_minute(huey)
    leader = scheduler(huey, "leader")
    for minute in range(4):
        now = NOON + datetime.timedelta(minutes=minute)
        leader.clock = lambda now=now: now
        leader.step(now)
    assert huey.storage.queue_size() == 4
    lagging = scheduler(huey, "lagging", clock=lambda: NOON + datetime.timedelta(seconds=55))
    lagging.step(NOON + datetime.timedelta(seconds=55))  # its first pass: minute 12:00
    assert huey.storage.queue_size() == 4


def test_a_pass_that_comes_too_late_is_skipped_even_when_its_claim_is_gone(huey):
    _every_minute(huey)
    late = NOON + STALE_PASS + datetime.timedelta(seconds=1)
    stalled = scheduler(huey, "stalled", clock=lambda: late)
    assert stalled.enqueue_periodic(NOON) == []
    assert huey.storage.queue_size() == 0


def test_a_clock_stepping_back_does_not_repeat_a_minute(huey):
    _every_minute(huey)
    s = scheduler(huey, global_scheduler=False)
    s.step(NOON + datetime.timedelta(minutes=1, seconds=1))
    s.step(NOON + datetime.timedelta(seconds=59))  # NTP stepped the clock back
    s.step(NOON + datetime.timedelta(minutes=1, seconds=30))
    assert huey.storage.queue_size() == 1


def test_the_clock_offset_moves_the_consumer_clock(monkeypatch):
    from huey.consumer import worker

    worker._clock_offset.cache_clear()
    monkeypatch.setenv("HUEY_CLOCK_OFFSET", "-7.5")
    try:
        skew = worker.consumer_clock(True) - worker.utcnow()
    finally:
        worker._clock_offset.cache_clear()
    assert abs(skew.total_seconds() + 7.5) < 1


def test_a_lagging_host_starting_after_a_leader_claimed_the_next_minute_enqueues_nothing(huey):
    """The leader's clock reads 12:01:01 while the lagging host's reads 12:00:57."""
    _every_minute(huey)
    leading = NOON + datetime.timedelta(minutes=1, seconds=1)
    scheduler(huey, "leader", clock=lambda: leading).step(leading)
    lagging = NOON + datetime.timedelta(seconds=57)
    scheduler(huey, "lagging", clock=lambda: lagging).step(lagging)
    assert huey.storage.queue_size() == 1
