"""huey 3's group and chord: members run side by side; a chord's callback runs once, with
every member's result in member order, on every backend and however members end."""

from __future__ import annotations

import datetime
import pickle
import threading

import pytest

from huey import (
    SKIPPED,
    CancelExecution,
    ChordResult,
    Error,
    ResultGroup,
    TaskException,
    chord,
    group,
)
from huey import api as huey_api
from huey import utils as huey_utils
from huey.consumer.worker import Worker
from huey.task import utcnow


def drain(huey) -> list:
    """Dequeue and execute every queued task (a failure gives None); their values in the
    order they ran."""
    values = []
    while (task := huey.dequeue()) is not None:
        values.append(huey.execute(task))
    return values


@pytest.fixture
def tasks(huey):
    """A member that echoes (failing on a negative number), an adder, and a callback that
    records every call it gets."""
    calls = []
    lock = threading.Lock()

    @huey.task()
    def echo(value):
        if isinstance(value, int) and value < 0:
            raise ValueError(f"negative: {value}")
        return value

    @huey.task()
    def add(a, b=1):
        return a + b

    @huey.task()
    def collect(values, *extra, **options):
        with lock:
            calls.append(values)
        return [values, *extra] if extra or options else values

    return echo, add, collect, calls


def test_the_names_come_from_huey_huey_api_and_huey_utils():
    assert (huey_api.group, huey_api.chord, huey_api.ChordResult) == (group, chord, ChordResult)
    assert (huey_utils.Error, huey_utils.SKIPPED) == (Error, SKIPPED)
    assert pickle.loads(pickle.dumps(SKIPPED)) is SKIPPED and repr(SKIPPED) == "SKIPPED"


def test_a_group_queues_its_members_and_returns_their_handles(huey, tasks):
    echo, add, _, _ = tasks
    results = huey.enqueue(group(echo.s(n) for n in "ab"))
    assert isinstance(results, ResultGroup) and len(huey) == 2
    mixed = huey.enqueue(group([add.s(1), add.s(2).then(add, 10)]))
    assert drain(huey) == ["a", "b", 2, 3, 13]
    assert results.get() == ["a", "b"]
    assert mixed.get() == [2, [3, 13]]  # a pipeline member's handle reads every step


def test_a_group_result_with_a_failed_member_raises_and_indexing_waits(huey, tasks):
    echo, *_ = tasks
    results = huey.enqueue(group([echo.s(1), echo.s(-1)]))
    drain(huey)
    assert results[0] == 1  # huey 3: indexing reads the result, blocking until stored
    with pytest.raises(TaskException):
        results.get()


def test_group_error_gives_every_member_the_error_callback(huey, tasks):
    echo, _, collect, calls = tasks
    huey.enqueue(group([echo.s(1), echo.s(-2), echo.s(3)]).error(collect))
    assert len(huey) == 3
    drain(huey)
    assert [type(c).__name__ for c in calls] == ["ValueError"]  # only the failed member's


def test_then_makes_the_group_a_chord_whose_callback_gets_results_in_member_order(huey, tasks):
    echo, _, collect, calls = tasks
    result = huey.enqueue(group([echo.s("a"), echo.s("b"), echo.s("c")]).then(collect))
    assert isinstance(result, ChordResult) and len(huey) == 3
    members = [huey.dequeue() for _ in range(3)]
    for member in reversed(members):  # finishing in the other order changes nothing
        huey.execute(member)
    assert len(huey) == 1 and calls == []
    assert drain(huey) == [["a", "b", "c"]]
    assert result.get() == ["a", "b", "c"] and calls == [["a", "b", "c"]]


def test_callback_arguments_come_before_the_results_and_keywords_stay(huey, tasks):
    echo, _, collect, _ = tasks
    result = huey.enqueue(group([echo.s(1)]).then(collect.s(), "x", label="y"))
    drain(huey)
    assert result.get() == ["x", [1]]  # collect("x", [1], label="y")


def test_chord_result_holds_member_callback_and_pipeline_handles(huey, tasks):
    echo, add, collect, _ = tasks

    @huey.task()
    def total(values):
        return sum(values)

    plain = huey.enqueue(chord([echo.s(1), echo.s(2)], collect.s()))
    assert plain.pipeline_results is None and len(plain.results) == 2
    chained = huey.enqueue(chord([echo.s(5)], total).then(add).then(add, 100))
    drain(huey)
    assert plain() == [1, 2] and plain.callback.get() == [1, 2]
    assert plain.results.get() == [1, 2]
    assert chained.get() == 5 and chained.pipeline_results.get() == [5, 6, 106]


def test_chord_then_and_error_chain_on_the_callback(huey, tasks):
    echo, add, collect, calls = tasks

    @huey.task()
    def total(values):
        return sum(values)

    ok = huey.enqueue(chord([echo.s(1), echo.s(2)], total).then(add).error(collect))
    drain(huey)
    assert ok.pipeline_results.get() == [3, 4] and calls == []
    failing = huey.enqueue(chord([echo.s(1), echo.s("x")], total).error(collect))
    drain(huey)
    assert [type(c).__name__ for c in calls] == ["TypeError"]  # the callback's failure
    with pytest.raises(TaskException):
        failing.get()


def test_failed_members_give_error_and_members_that_never_ran_give_skipped(huey, tasks):
    echo, _, collect, _ = tasks

    @huey.pre_execute()
    def cancel_the_canceled(task):
        if task.args == ("cancel me",):
            raise CancelExecution(retry=False)

    past = utcnow() - datetime.timedelta(minutes=1)
    expired = echo.s("expired")
    expired.expires = past
    members = [echo.s(1), echo.s(-1), echo.s("revoked"), expired, echo.s("cancel me")]
    result = huey.enqueue(chord(members, collect))
    huey.revoke(members[2])
    drain(huey)
    one, error, *skipped = result.get()
    assert one == 1 and skipped == [SKIPPED] * 3
    assert isinstance(error, Error) and error.metadata["error"] == "ValueError('negative: -1')"
    with pytest.raises(TaskException):
        result.results[1]  # the member's own result is the failure


def test_a_retried_member_counts_only_once_its_retries_end(huey, tasks):
    _, _, collect, calls = tasks
    attempts = []

    @huey.task(retries=2)
    def flaky(value):
        attempts.append(value)
        if len(attempts) < 2:
            raise ValueError("first try fails")
        return value

    @huey.task(retries=1)
    def hopeless():
        raise ValueError("never works")

    result = huey.enqueue(chord([flaky.s(7), hopeless.s()], collect))
    drain(huey)
    value, error = result.get()
    assert value == 7 and isinstance(error, Error) and len(calls) == 1 and len(attempts) == 2


def test_a_members_own_error_callback_runs_and_the_chord_still_completes(huey, tasks):
    echo, add, collect, _ = tasks

    @huey.task()
    def note(exc):
        return f"noted {exc}"

    result = huey.enqueue(chord([echo.s(-5).error(note), add.s(1)], collect))
    assert drain(huey)[:3] == [None, 2, "noted negative: -5"]
    error, two = result.get()
    assert isinstance(error, Error) and two == 2


def test_a_pipeline_member_counts_when_its_last_step_ends(huey, tasks):
    echo, add, collect, _ = tasks
    result = huey.enqueue(chord([add.s(1).then(add).then(add), echo.s(10)], collect))
    assert drain(huey) == [2, 10, 3, 4, [4, 10]]
    assert result.results.get() == [4, 10]


def test_a_pipeline_member_whose_head_fails_or_is_revoked_still_counts(huey, tasks):
    echo, add, collect, _ = tasks
    failing = echo.s(-1).then(add)
    revoked = echo.s(1).then(add)
    result = huey.enqueue(chord([failing, revoked, echo.s(2).then(echo)], collect))
    huey.revoke(revoked)
    drain(huey)
    error, skipped, two = result.get()
    assert isinstance(error, Error) and skipped is SKIPPED and two == 2


def test_nested_chords_count_as_one_member_each(huey, tasks):
    echo, add, collect, _ = tasks
    inner = chord([echo.s("a"), echo.s("b")], collect)
    piped = chord([add.s(1), add.s(2)], collect.s().then(echo))
    deep = chord([chord([echo.s("c")], collect)], collect)
    result = huey.enqueue(chord([inner, piped, deep, echo.s("d")], collect))
    assert len(huey) == 6
    drain(huey)
    assert result.get() == [["a", "b"], [2, 3], [["c"]], "d"]


def test_member_results_of_none_reach_the_callback_and_no_bookkeeping_is_left(huey, tasks):
    echo, _, collect, _ = tasks
    result = huey.enqueue(chord([echo.s(None), echo.s(1)], collect))
    drain(huey)
    assert result.get() == [None, 1]
    assert huey.result_count() == 1  # echo(1)'s result; a None result is not stored
    assert not [key for key in huey.storage.result_items() if key.startswith("huey.chord.")]


def test_an_empty_chord_runs_its_callback_with_an_empty_list_each_time(huey, tasks):
    *_, collect, calls = tasks
    empty = chord([], collect)
    for _ in range(2):
        result = huey.enqueue(empty)
        drain(huey)
        assert result.get() == []
    assert calls == [[], []]


def test_a_plain_group_cannot_be_a_chord_member(huey, tasks):
    echo, _, collect, _ = tasks
    with pytest.raises(ValueError, match="then"):
        huey.enqueue(chord([echo.s(1), group([echo.s(2)])], collect))
    assert len(huey) == 0  # refused before anything was queued


def test_each_member_message_carries_its_chord(huey, tasks):
    echo, add, collect, _ = tasks
    huey.enqueue(chord([echo.s(1), add.s(1).then(add)], collect))
    first, second = huey.pending()
    assert first.chord_config.idx == 0 and second.chord_config is None
    config = second.on_complete.chord_config
    assert (config.idx, config.size, config.cid) == (1, 2, first.chord_config.cid)
    assert config.callback.name == collect.name


def test_a_member_delivered_again_after_a_crash_enqueues_the_callback_once(huey, tasks):
    echo, _, collect, calls = tasks
    result = huey.enqueue(chord([echo.s(1), echo.s(2)], collect))
    storage, ack, killed = huey.storage, huey.storage.ack, []

    def ack_or_die(*args):
        if not killed:  # the worker dies after the last member counted in, before its ack
            killed.append(True)
            raise RuntimeError("worker killed")
        ack(*args)

    worker = Worker(huey, "w", threading.Event(), fetch_timeout=0.05)
    worker.step()  # the first member, acked normally
    storage.ack = ack_or_die
    try:
        for _ in range(5):  # the second dies, is requeued, runs again; then the callback
            worker.step()
    finally:
        storage.ack = ack
    assert killed and result.get() == [1, 2] and calls == [[1, 2]]
    assert storage.queue_size() == storage.inflight_size() == 0


def test_always_eager_runs_the_chord_now_and_returns_the_callback_value(tasks):
    echo, add, collect, _ = tasks
    huey = echo.huey
    huey.always_eager = True
    try:
        assert huey.enqueue(chord([echo.s(1), add.s(2).then(add)], collect)) == [1, 4]
        assert huey.enqueue(group([echo.s(1), add.s(1)])) == [1, 2]
    finally:
        huey.always_eager = False


def test_immediate_mode_runs_a_chord_to_its_callback(tasks):
    echo, _, collect, _ = tasks
    huey = echo.huey
    huey.immediate = True
    try:
        result = huey.enqueue(chord([echo.s(1), chord([echo.s(2)], collect)], collect))
        assert result.get() == [1, [2]]
    finally:
        huey.immediate = False


@pytest.mark.slow
def test_a_chord_under_a_real_consumer_runs_its_callback_once(huey, tasks, consumer):
    echo, add, collect, calls = tasks
    members = [add.s(n) for n in range(30)] + [echo.s(-1), chord([echo.s("x")], collect)]
    consumer(workers=4)
    result = huey.enqueue(chord(members, collect))
    values = result.get(blocking=True, timeout=60)
    assert values[:30] == list(range(1, 31)) and values[31] == ["x"]
    assert isinstance(values[30], Error) and len(calls) == 2


def test_a_member_whose_lock_is_held_gives_skipped(huey, tasks):
    echo, _, collect, _ = tasks

    @huey.task()
    @huey.lock_task("only-one")
    def locked():
        return "ran"

    result = huey.enqueue(chord([locked.s(), echo.s(1)], collect))
    with huey.lock_task("only-one"):
        drain(huey)
    assert result.get() == [SKIPPED, 1]


def test_a_scheduled_member_counts_when_it_runs(huey, tasks):
    echo, _, collect, _ = tasks
    later = echo.s("later")
    later.execute_time = utcnow() + datetime.timedelta(seconds=30)
    result = huey.enqueue(chord([echo.s("now"), later], collect))
    assert drain(huey) == ["now"] and huey.scheduled_count() == 1
    then = utcnow() + datetime.timedelta(seconds=31)
    (due,) = huey.read_schedule(then)
    huey.execute(due, timestamp=then)
    assert drain(huey) == [["now", "later"]] and result.get() == ["now", "later"]
