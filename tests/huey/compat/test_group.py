"""huey 3's group and chord: the callback runs once, after every member, on every backend."""

from __future__ import annotations

import threading

import pytest

from huey import ChordResult, ConfigurationError, ResultGroup


@pytest.fixture
def tasks(huey):
    """Members that add or divide, a member that fails once, and callbacks that record calls."""
    calls = []
    attempts = []
    lock = threading.Lock()

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def divide(a, b):
        return a / b

    @huey.task(retries=1)
    def flaky(value):
        with lock:
            attempts.append(value)
            if len(attempts) == 1:
                raise ValueError("first try fails")
        return value

    @huey.task()
    def collect(values, label="then"):
        with lock:
            calls.append((label, values))
        return (label, [type(v).__name__ if isinstance(v, Exception) else v for v in values])

    return add, divide, flaky, collect, calls


def test_chord_callback_gets_every_result_in_member_order(huey, tasks, run_queued):
    add, _, _, collect, calls = tasks
    result = huey.chord([add.s(i, i) for i in range(5)], collect, label="sum")
    assert isinstance(result, ChordResult) and len(huey) == 5
    run_queued(huey)
    assert calls == [("sum", [0, 2, 4, 6, 8])]
    assert result.get() == ("sum", [0, 2, 4, 6, 8])
    assert result.group.get() == [0, 2, 4, 6, 8]
    assert not [key for key in huey.storage.result_items() if "huey.chord." in str(key)]


def test_a_failed_member_leaves_its_exception_in_its_place(huey, tasks, run_queued):
    add, divide, _, collect, calls = tasks
    result = huey.chord([add.s(1, 2), divide.s(1, 0)], collect)
    with pytest.raises(ZeroDivisionError):
        run_queued(huey)
    run_queued(huey)
    assert result.get() == ("then", [3, "ZeroDivisionError"]) and len(calls) == 1


def test_error_callback_runs_instead_when_a_member_failed(huey, tasks, run_queued):
    add, divide, _, collect, calls = tasks
    result = (
        huey.group([add.s(1, 2), divide.s(1, 0)])
        .then(collect, label="ok")
        .error(collect, label="failed")
        .enqueue()
    )
    with pytest.raises(ZeroDivisionError):
        run_queued(huey)
    run_queued(huey)
    assert result.get() == ("failed", [3, "ZeroDivisionError"]) and [c[0] for c in calls] == [
        "failed"
    ]


def test_a_retried_member_counts_once_after_its_retry(huey, tasks, run_queued):
    add, _, flaky, collect, calls = tasks
    result = huey.chord([flaky.s(7), add.s(1, 1)], collect)
    with pytest.raises(ValueError):
        run_queued(huey)
    assert calls == []  # the retry is queued; the callback waits for it
    run_queued(huey)
    assert result.get() == ("then", [7, 2]) and len(calls) == 1


def test_a_redelivered_arrival_does_not_run_the_callback_again(huey, tasks, run_queued):
    add, _, _, collect, calls = tasks
    huey.chord([add.s(1, 1)], collect)
    huey.execute(huey.dequeue())
    arrival = huey.serialize_task(huey.dequeue())
    huey.execute(huey.deserialize_task(arrival))
    huey.execute(huey.deserialize_task(arrival))  # a crash made the queue deliver it twice
    assert run_queued(huey) == [("then", [2])] and len(calls) == 1


def test_nested_chord_counts_as_one_member_of_the_outer_chord(huey, tasks, run_queued):
    add, _, _, collect, _ = tasks
    inner = huey.group([add.s(1, 1), add.s(2, 2)]).then(collect, label="inner")
    result = huey.chord([inner, add.s(3, 3)], collect, label="outer")
    run_queued(huey)
    assert result.get() == ("outer", [("inner", [2, 4]), 6])
    assert isinstance(result.group[0], ChordResult)


def test_plain_group_returns_its_members_handles(huey, tasks, run_queued):
    add, _, _, _, _ = tasks
    results = huey.group([add.s(1, 2), add.s(3, 4).then(add, 10)]).enqueue()
    assert isinstance(results, ResultGroup)
    run_queued(huey)
    assert results.get() == [3, 17]  # a pipeline's handle is its last step's


def test_always_eager_chord_runs_now_and_returns_the_callback_value(tasks):
    add, _, _, collect, _ = tasks
    huey = add.huey
    huey.always_eager = True
    try:
        assert huey.chord([add.s(1, 2), add.s(2, 2).then(add, 1)], collect) == ("then", [3, 5])
    finally:
        huey.always_eager = False


def test_empty_chord_runs_the_callback_with_no_results(huey, tasks, run_queued):
    *_, collect, _ = tasks
    result = huey.chord([], collect)
    run_queued(huey)
    assert result.get() == ("then", [])


def test_members_with_their_own_error_callback_are_refused(huey, tasks):
    add, _, _, collect, _ = tasks
    with pytest.raises(ConfigurationError):
        huey.chord([add.s(1, 2).error(collect)], collect)
    with pytest.raises(ConfigurationError):
        huey.group([add.s(1, 2)]).error(collect).enqueue()


@pytest.mark.slow
def test_chord_under_a_real_consumer_runs_its_callback_once(huey, tasks, consumer):
    add, divide, flaky, collect, calls = tasks
    members = [add.s(i, 1) for i in range(20)] + [divide.s(1, 0), flaky.s(5)]
    for member in members[-2:]:
        member.retry_delay = 0
    consumer(workers=4)
    result = huey.chord(members, collect)
    label, values = result.get(blocking=True, timeout=60)
    assert values == [*range(1, 21), "ZeroDivisionError", 5]
    assert len(calls) == 1 and result.group[0].get(blocking=True, timeout=30) == 1
