"""huey 3's pipelines: what a step passes on, and task instances given to then()/error()."""

from __future__ import annotations

import contextlib

from huey import Task


def run_pipeline(huey, pipeline, run_queued) -> list:
    results = huey.enqueue(pipeline)
    run_queued(huey)
    return results.get()


def test_a_result_follows_the_arguments_given_to_then(huey, run_queued):
    @huey.task()
    def sub(a, b):
        return a - b

    pipeline = sub.s(10, 1).then(sub, 100).then(sub, 1000)
    assert run_pipeline(huey, pipeline, run_queued) == [9, 91, 909]


def test_a_dict_result_fills_the_keywords_then_did_not_give(huey, run_queued):
    @huey.task()
    def state(v1=0, v2=0):
        return {"v1": v1 + 1, "v2": v2 + 2}

    pipeline = state.s().then(state, v2=10).then(state)
    assert run_pipeline(huey, pipeline, run_queued) == [
        {"v1": 1, "v2": 2},
        {"v1": 2, "v2": 12},
        {"v1": 3, "v2": 14},
    ]


def test_a_step_that_returns_none_adds_no_argument(huey, run_queued):
    @huey.task()
    def nothing():
        return None

    @huey.task()
    def count(*args):
        return len(args)

    assert run_pipeline(huey, nothing.s().then(count).then(count), run_queued) == [None, 0, 1]


def test_then_and_error_take_task_instances_with_more_arguments(huey, run_queued):
    @huey.task()
    def add(a, b, c=0):
        return a + b + c

    @huey.task()
    def divide(a, b):
        return a / b

    @huey.task()
    def report(label, error):
        return (label, type(error).__name__)

    pipeline = add.s(1, 2).then(add.s(), 3).then(add.s(), 4, c=5)
    assert run_pipeline(huey, pipeline, run_queued) == [3, 6, 15]
    huey.enqueue(divide.s(1, 0).error(report.s(), "div"))
    with contextlib.suppress(ZeroDivisionError):  # huey 3's execute() returns instead
        huey.execute(huey.dequeue())
    assert run_queued(huey) == [("div", "ZeroDivisionError")]


def test_a_pipelines_handles_are_a_list_that_reads_every_value_when_called(huey, run_queued):
    @huey.task()
    def double(n):
        return n * 2

    pipeline = double.s(1).then(double).then(double)
    results = huey.enqueue(pipeline)
    assert isinstance(results, list)  # the specification's list of handles
    assert [r.id for r in results] == [t.id for t in pipeline.chain()]
    run_queued(huey)
    assert results[0].get(preserve=True) == 2
    assert results() == [2, 4, 8]  # huey 3 calls what enqueue returned


def test_task_takes_huey3s_keywords():
    task = Task(args=(1,), kwargs={"x": 2}, id="abc")
    assert (task.id, task.args, task.kwargs) == ("abc", (1,), {"x": 2})
