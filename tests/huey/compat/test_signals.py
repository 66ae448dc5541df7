"""huey 3's signals: names in huey.signals, @huey.signal(), disconnect_signal()."""

from __future__ import annotations

import pytest

from huey import CancelExecution
from huey import signals as S


@pytest.fixture
def heard(huey):
    """Every signal the instance sends, as (signal, task id, extra args)."""
    log: list[tuple] = []

    @huey.signal()
    def everything(signal, task, *extra):
        log.append((signal, task.id, extra))

    return log


def test_a_successful_task_is_enqueued_executing_complete(huey, heard, run_queued):
    @huey.task()
    def job():
        return 1

    result = job()
    run_queued(huey)
    assert heard == [
        (S.SIGNAL_ENQUEUED, result.id, ()),
        (S.SIGNAL_EXECUTING, result.id, ()),
        (S.SIGNAL_COMPLETE, result.id, ()),
    ]


def test_a_failing_task_sends_error_with_the_exception_then_retrying(huey, heard):
    @huey.task(retries=1, retry_delay=60)
    def broken():
        raise KeyError("x")

    broken()
    heard.clear()
    assert huey.execute(huey.dequeue()) is None
    assert [signal for signal, *_ in heard] == [
        S.SIGNAL_EXECUTING,
        S.SIGNAL_ERROR,
        S.SIGNAL_RETRYING,
        S.SIGNAL_SCHEDULED,  # a delayed retry goes straight to the schedule
    ]
    assert isinstance(heard[1][2][0], KeyError)


def test_revoked_canceled_and_locked_tasks_send_their_signal(huey, run_queued):
    seen = []

    @huey.signal(S.SIGNAL_REVOKED, S.SIGNAL_CANCELED, S.SIGNAL_LOCKED)
    def stopped(signal, task):
        seen.append(signal)

    @huey.task()
    def job():
        return 1

    @huey.task()
    @huey.lock_task("only-one")
    def exclusive():
        return 2

    job().revoke()
    run_queued(huey)

    @huey.pre_execute()
    def veto(task):
        raise CancelExecution()

    job()
    run_queued(huey)
    huey.unregister_pre_execute("veto")
    exclusive()
    with huey.lock_task("only-one"):
        assert run_queued(huey) == [None]
    assert seen == [S.SIGNAL_REVOKED, S.SIGNAL_CANCELED, S.SIGNAL_LOCKED]


def test_disconnect_signal_and_a_broken_receiver_does_not_break_the_task(huey, run_queued):
    seen = []

    @huey.signal(S.SIGNAL_COMPLETE)
    def receiver(signal, task):
        seen.append(signal)

    @huey.signal(S.SIGNAL_EXECUTING)
    def broken(signal, task):
        raise RuntimeError("receiver bug")

    @huey.task()
    def job():
        return "ok"

    job()
    assert run_queued(huey) == ["ok"] and seen == [S.SIGNAL_COMPLETE]
    huey.disconnect_signal(receiver, S.SIGNAL_COMPLETE)
    huey.disconnect_signal(broken)
    job()
    assert run_queued(huey) == ["ok"] and seen == [S.SIGNAL_COMPLETE]


def test_signals_fire_in_immediate_mode(huey):
    seen = []
    huey.immediate = True

    @huey.signal(S.SIGNAL_COMPLETE)
    def done(signal, task):
        seen.append(task.id)

    @huey.task()
    def job():
        return 1

    result = job()
    assert seen == [result.id]
