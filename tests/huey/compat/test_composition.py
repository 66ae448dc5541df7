"""huey 3's composition: .error() callbacks beside .then() pipelines, on every backend."""

from __future__ import annotations

import threading

import pytest

from huey import TaskException
from huey.message import decode, read_metadata


@pytest.fixture
def tasks(huey):
    """A task that fails on demand, and a callback that records what it was given."""
    seen = []

    @huey.task()
    def divide(a, b):
        return a / b

    @huey.task()
    def report(error, label="?"):
        seen.append((type(error).__name__, label))
        return label

    @huey.task()
    def after(value):
        return value * 10

    return divide, report, after, seen


def test_error_callback_gets_the_exception_when_the_task_fails(huey, tasks, run_queued):
    divide, report, _, seen = tasks
    result = huey.enqueue(divide.s(1, 0).error(report, label="div"))
    assert run_queued(huey) == [None, "div"] and seen == [("ZeroDivisionError", "div")]
    with pytest.raises(TaskException):
        result.get()


def test_error_callback_does_not_run_on_success_and_then_still_does(huey, tasks, run_queued):
    divide, report, after, seen = tasks
    results = huey.enqueue(divide.s(6, 3).then(after).error(report))
    assert run_queued(huey) == [2.0, 20.0] and seen == []
    assert [r.get() for r in results] == [2.0, 20.0]


def test_error_callback_runs_for_every_failed_attempt(huey, tasks, run_queued):
    divide, report, _, seen = tasks
    failing = divide.s(1, 0)
    failing.retries = 1
    huey.enqueue(failing.error(report))
    assert huey.execute(huey.dequeue()) is None
    assert len(huey) == 2  # the callback, then the retry
    assert run_queued(huey) == ["?", None, "?"]
    assert seen == [("ZeroDivisionError", "?")] * 2  # each call gets its own attempt's error


def test_without_intermediate_errors_the_callback_waits_for_the_last_retry(huey, tasks, run_queued):
    divide, report, _, seen = tasks
    huey.store_intermediate_errors = False
    failing = divide.s(1, 0)
    failing.retries = 1
    result = huey.enqueue(failing.error(report))
    assert huey.execute(huey.dequeue()) is None
    assert len(huey) == 1 and result.get() is None  # only the retry: nothing reported yet
    assert huey.execute(huey.dequeue()) is None
    assert len(huey) == 1  # now the callback
    assert run_queued(huey) == ["?"] and seen == [("ZeroDivisionError", "?")]
    with pytest.raises(TaskException):
        result.get()


def test_an_exception_that_does_not_pickle_reaches_the_callback_as_task_exception(
    huey, tasks, run_queued
):
    _, report, _, seen = tasks

    class Unpicklable(Exception):
        def __init__(self):
            super().__init__("holds a lock")
            self.lock = threading.Lock()

    @huey.task()
    def broken():
        raise Unpicklable()

    huey.enqueue(broken.s().error(report))
    run_queued(huey)
    assert seen == [("TaskException", "?")]


def test_message_carries_error_pipelines_priority_and_expires(huey, tasks):
    divide, report, after, _ = tasks
    step = divide.s(1, 2)
    step.priority = 4
    task = step.then(after).error(report.s(label="a").then(after))
    data = huey.serialize_task(task)
    message = decode(data, huey.serializer)
    assert message.priority == 4 and message.on_complete.name == after.name
    assert message.on_error.data == ((), {"label": "a"})
    assert message.on_error.on_complete.name == after.name
    assert read_metadata(data, huey.serializer).on_error.data is None
    rebuilt = huey.deserialize_task(data)
    assert rebuilt.on_error.on_complete.name == after.name and rebuilt.on_complete.data == (
        (),
        {},
    )


def test_error_callback_runs_in_immediate_mode(huey, tasks):
    divide, report, _, seen = tasks
    huey.immediate = True
    result = huey.enqueue(divide.s(1, 0).error(report, label="now"))
    assert seen == [("ZeroDivisionError", "now")]
    with pytest.raises(TaskException):
        result.get()


def test_a_second_error_callback_handles_the_first_ones_failure(huey, tasks, run_queued):
    divide, report, _, seen = tasks
    huey.enqueue(divide.s(1, 0).error(divide, 0).error(report, label="both failed"))
    assert run_queued(huey) == [None, None, "both failed"] and seen[0][1] == "both failed"
