"""huey 3's Result handle and ResultGroup."""

from __future__ import annotations

import datetime

import pytest

from huey import Result, ResultGroup, ResultTimeout, TaskResultWrapper
from huey import task as huey_task


def test_result_is_the_result_handle_with_id_is_ready_and_reset(huey, run_queued):
    @huey.task()
    def double(n):
        return n * 2

    result = double(21)
    assert Result is TaskResultWrapper and isinstance(result, Result)
    assert result.id == result.task_id and not result.is_ready()
    run_queued(huey)
    assert result.is_ready() and result() == 42
    assert result.is_ready()  # read through the handle: still ready
    result.reset()
    assert not result.is_ready() and result.get() is None  # the store gave it out already


def test_result_get_preserve_then_reset_reads_again(huey, run_queued):
    @huey.task()
    def value():
        return "v"

    result = value()
    run_queued(huey)
    assert result.get(preserve=True) == "v"
    result.reset()
    assert result.get() == "v"


def test_result_revoke_restore_and_reschedule(huey, run_queued):
    @huey.task()
    def job():
        return "ran"

    result = job()
    result.revoke()
    assert result.is_revoked()
    assert result.restore() is True and not result.is_revoked()
    result.revoke()
    again = result.reschedule(delay=datetime.timedelta(hours=1))
    assert run_queued(huey) == [None]  # the revoked original is discarded
    (task,) = huey.scheduled()
    assert task.id == again.id != result.id


def test_result_timeout_is_huey3s_name(huey):
    @huey.task()
    def never():
        return 1

    with pytest.raises(ResultTimeout):
        never().get(blocking=True, timeout=0.05)


def test_map_returns_a_result_group(huey, run_queued):
    @huey.task()
    def square(n):
        return n * n

    group = square.map(range(4))
    assert isinstance(group, ResultGroup) and len(group) == 4
    run_queued(huey)
    assert group.get() == [0, 1, 4, 9]
    assert [r.get() for r in group] == [group[i] for i in range(4)]  # handles; values


def test_result_group_as_completed_yields_every_ready_result(huey):
    @huey.task()
    def square(n):
        return n * n

    group = square.map([1, 2, 3])
    tasks = [huey.dequeue() for _ in range(3)]
    for task in reversed(tasks):
        huey.execute(task)
    assert list(group.as_completed()) == [1, 4, 9]  # all ready: handle order


def test_as_completed_waits_for_results_stored_later(huey, consumer):
    @huey.task()
    def square(n):
        return n * n

    group = square.map(range(5))
    consumer(workers=2)
    assert sorted(group.as_completed()) == [0, 1, 4, 9, 16]


def test_huey3_names_import_from_huey_api():
    from huey import api

    assert (api.Result, api.ResultGroup, api.Task) == (Result, ResultGroup, huey_task.Task)
