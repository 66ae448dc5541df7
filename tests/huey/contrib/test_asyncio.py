"""huey.contrib.asyncio: awaiting results on each backend while the loop stays free."""

from __future__ import annotations

import asyncio
import threading

import pytest

from huey import Result, ResultTimeout, Task, TaskException
from huey.contrib.asyncio import aget_result, aget_result_group


def test_aget_result_waits_without_blocking_the_loop(huey, consumer) -> None:
    release = threading.Event()

    @huey.task()
    def slow(x):
        assert release.wait(10)
        return x * 2

    consumer()

    async def main():
        pending = asyncio.ensure_future(aget_result(slow(21)))
        await asyncio.sleep(0.2)
        assert not pending.done()  # the loop ran this coroutine while the task waited
        release.set()
        return await asyncio.wait_for(pending, 10)

    assert asyncio.run(main()) == 42


def test_aget_result_group_returns_values_in_order(huey, consumer) -> None:
    @huey.task()
    def square(x):
        return x * x

    consumer()
    handles = [square(n) for n in range(5)]
    assert asyncio.run(asyncio.wait_for(aget_result_group(handles), 10)) == [0, 1, 4, 9, 16]


def test_aget_result_raises_a_failed_task_and_keeps_a_preserved_one(huey, consumer) -> None:
    @huey.task()
    def fail():
        raise ValueError("boom")

    @huey.task()
    def echo(x):
        return x

    consumer()
    with pytest.raises(TaskException):
        asyncio.run(asyncio.wait_for(aget_result(fail()), 10))
    handle = echo("kept")
    assert asyncio.run(asyncio.wait_for(aget_result(handle, preserve=True), 10)) == "kept"
    assert huey.result(handle.task_id) == "kept"  # still stored


def test_aget_result_gives_up_after_its_timeout(huey) -> None:
    handle = Result(huey, Task(id="never-run"))
    with pytest.raises(ResultTimeout):
        asyncio.run(asyncio.wait_for(aget_result(handle, timeout=0.05), 10))
