"""huey 3's ``huey.rate_limit``: a shared count of calls per window, on every backend."""

from __future__ import annotations

import datetime
import pickle

import pytest

from huey import RateLimitExceeded, TaskException
from huey.signals import SIGNAL_ERROR, SIGNAL_RATE_LIMITED, SIGNAL_RETRYING
from huey.task import utcnow

A_DAY = 86400


def test_usage_counts_up_to_the_limit_and_reset_clears_it(huey):
    limit = huey.rate_limit("api", limit=2, per=A_DAY)
    assert limit.current_usage() == 0
    assert limit.acquire() and limit.acquire()
    with pytest.raises(RateLimitExceeded) as full:
        limit.acquire()
    assert full.value.key == "api" and 0 < full.value.delay <= A_DAY
    assert limit.current_usage() == 2
    limit.reset()
    assert limit.current_usage() == 0 and limit.acquire()


def test_a_second_limiter_with_the_same_name_shares_the_count(huey):
    huey.rate_limit("shared", limit=1, per=A_DAY).acquire()
    with pytest.raises(RateLimitExceeded):
        huey.rate_limit("shared", limit=1, per=A_DAY).acquire()
    assert huey.rate_limit("other", limit=1, per=A_DAY).acquire()


def test_a_limited_task_is_retried_in_the_next_window_keeping_its_retries(huey):
    sent = []
    huey.signal(SIGNAL_RATE_LIMITED, SIGNAL_RETRYING)(lambda signal, task: sent.append(signal))

    @huey.task(retries=1)
    @huey.rate_limit("sync", limit=1, per=A_DAY)
    def sync(n):
        return n

    first, second = sync(1), sync(2)
    assert huey.execute(huey.dequeue()) == 1 and first.get() == 1
    assert huey.execute(huey.dequeue()) is None  # limited: a retry, not an error
    assert sent == [SIGNAL_RATE_LIMITED, SIGNAL_RETRYING]
    [retried] = huey.scheduled()
    assert retried.id == second.id and retried.retries == 1
    assert retried.eta > utcnow() + datetime.timedelta(seconds=1)


def test_without_retry_a_limited_task_fails(huey):
    sent = []
    huey.signal(SIGNAL_RATE_LIMITED, SIGNAL_ERROR)(lambda signal, task, *exc: sent.append(signal))

    @huey.task()
    @huey.rate_limit("once", limit=1, per=A_DAY, retry=False)
    def once():
        return "ok"

    once()
    second = once()
    assert huey.execute(huey.dequeue()) == "ok"
    assert huey.execute(huey.dequeue()) is None
    assert sent == [SIGNAL_RATE_LIMITED]  # huey 3's one signal for it, no error signal
    with pytest.raises(TaskException, match="once"):
        second.get()
    assert huey.scheduled() == []


def test_a_new_window_starts_from_zero_and_clears_the_old_slots(huey):
    limit = huey.rate_limit("short", limit=1, per=A_DAY)
    assert limit.acquire()
    before = huey.result_count()
    limit._window = lambda: 10**9  # the next window, without waiting a day
    assert limit.current_usage() == 0 and limit.acquire()
    assert huey.result_count() == before  # the old window's slot went, the new one came


def test_without_retry_a_task_with_retries_left_uses_one_and_a_set_retry_delay(huey):
    @huey.task(retries=2, retry_delay=120)
    def sync():
        with huey.rate_limit("ctx", limit=1, per=A_DAY, retry=False):
            return "ok"

    sync()
    second = sync()
    assert huey.execute(huey.dequeue()) == "ok"
    assert huey.execute(huey.dequeue()) is None
    [retried] = huey.scheduled()
    assert retried.id == second.id and retried.retries == 1
    soon = utcnow() + datetime.timedelta(seconds=121)
    assert utcnow() + datetime.timedelta(seconds=100) < retried.eta < soon


def test_rate_limit_exceeded_takes_huey3s_arguments_and_pickles():
    exc = pickle.loads(pickle.dumps(RateLimitExceeded("k", 12.5, retry=False)))
    assert (exc.key, exc.delay, exc.retry) == ("k", 12.5, False)
    assert str(exc) == 'Rate limit exceeded on "k"'
    assert str(RateLimitExceeded("k", 12.5)) == 'Rate limit exceeded on "k", retry in 12.5s'


def test_a_limit_of_zero_refuses_every_call(huey):
    paused = huey.rate_limit("paused", limit=0, per=60)
    with pytest.raises(RateLimitExceeded):
        paused.acquire()
    assert paused.current_usage() == 0
