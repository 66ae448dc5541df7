"""Results, errors, revocation and locks on every backend."""

from __future__ import annotations

import base64
import datetime
import threading

import pytest

from huey import DataStoreTimeout, Huey, TaskException, TaskLockedException
from huey.execution import Outcome, execute

from .test_api import drain, run_next


@pytest.fixture
def tasks(huey: Huey):
    """A few tasks on the test's Huey."""

    class Tasks:
        @huey.task()
        def add(a, b):
            return a + b

        @huey.task()
        def fails():
            raise Exception("I failed")

        @huey.task(retries=2, retry_delay=0)
        def flaky(state):
            state.setdefault("calls", 0)
            state["calls"] += 1
            raise ValueError("flaky")

    return Tasks


def test_result_is_removed_after_read_unless_preserved(huey, tasks):
    first, second = tasks.add(1, 1), tasks.add(2, 2)
    drain(huey)
    assert huey.result(first.task_id, preserve=True) == 2
    assert huey.result(first.task_id) == 2
    assert huey.result(first.task_id) is None  # gone after a plain read
    assert second.get(preserve=True) == 4
    assert second.task_id in huey.all_results()


def test_blocking_get_times_out_and_can_revoke(huey, tasks):
    result = tasks.add(1, 2)
    with pytest.raises(DataStoreTimeout):
        result.get(blocking=True, timeout=0.2)
    assert not result.is_revoked()
    with pytest.raises(DataStoreTimeout):
        result.get(blocking=True, timeout=0.1, revoke_on_timeout=True)
    assert result.is_revoked()


def test_blocking_get_wakes_when_result_lands(huey, tasks):
    result = tasks.add(20, 22)
    timer = threading.Timer(0.2, lambda: run_next(huey))
    timer.start()
    assert result.get(blocking=True, timeout=10) == 42
    timer.join()


def test_huey_result_blocking_with_backoff_parameters(huey, tasks):
    result = tasks.add(1, 2)
    threading.Timer(0.1, lambda: run_next(huey)).start()
    assert huey.result(result.task_id, blocking=True, timeout=10, backoff=2, max_delay=0.5) == 3


def test_failed_task_raises_task_exception_with_metadata(huey, tasks):
    result = tasks.fails()
    assert run_next(huey) is None
    for blocking in (False, True):
        with pytest.raises(TaskException) as info:
            result.get(blocking=blocking, timeout=1)
        assert "I failed" in str(info.value)
        assert info.value.metadata["task_id"] == result.task_id
        assert "Traceback" in info.value.metadata["traceback"]
    errors = huey.errors()
    assert len(errors) == 1 and errors[0]["task_id"] == result.task_id


def test_a_failure_keeps_the_call_so_it_can_be_run_again(huey, tasks):
    result = tasks.add(1, "x")
    assert run_next(huey) is None
    (error,) = huey.errors()
    assert datetime.datetime.fromisoformat(error["time"]).utcoffset() == datetime.timedelta(0)
    again = huey.deserialize_task(base64.b64decode(error["payload"]))
    assert (again.task_id, again.name, again.data) == (
        result.task_id,
        result.task.name,
        ((1, "x"), {}),
    )


def test_store_errors_false_keeps_no_error(storage_url):
    huey = Huey("quiet-errors", url=storage_url, store_errors=False)

    @huey.task()
    def fails():
        raise RuntimeError("x")

    result = fails()
    task = huey.deserialize_task(huey.storage.dequeue())
    assert execute(huey, task).outcome is Outcome.FAILED
    assert huey.errors() == [] and result.get() is None
    huey.flush()


def test_retries_then_failure(huey, tasks):
    state: dict = {}
    result = tasks.flaky(state)
    outcomes = []
    while huey.storage.queue_size():
        task = huey.deserialize_task(huey.storage.dequeue())
        task.data = ((state,), {})  # share state across the in-process retries
        outcomes.append(execute(huey, task).outcome)
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]
    assert state["calls"] == 3
    assert len(huey.errors()) == 3  # every failed attempt is recorded
    with pytest.raises(TaskException):
        result.get()


def test_retry_delay_schedules_the_retry(huey):
    @huey.task(retries=1, retry_delay=30)
    def fails():
        raise ValueError

    fails()
    now = datetime.datetime(2030, 1, 1, 12, 0, 0)
    task = huey.deserialize_task(huey.storage.dequeue())
    assert execute(huey, task, now=now).outcome is Outcome.RETRYING
    (retry,) = huey.scheduled()
    delay = retry.execute_time - now  # counted from when the attempt failed
    assert datetime.timedelta(seconds=30) <= delay < datetime.timedelta(seconds=31)
    assert retry.retries == 0 and retry.task_id == task.task_id


def test_revoke_instance_and_restore(huey, tasks):
    result = tasks.add(1, 2)
    result.revoke()
    assert result.is_revoked() and huey.is_revoked(result.task) and huey.is_revoked(result.task_id)
    assert result.restore() is True
    assert not result.is_revoked()
    assert run_next(huey) == 3


def test_revoked_task_is_discarded_by_worker(huey, tasks):
    result = tasks.add(1, 2)
    huey.revoke_by_id(result.task_id)
    task = huey.deserialize_task(huey.storage.dequeue())
    assert execute(huey, task).outcome is Outcome.REVOKED
    assert result.get() is None


def test_revoke_once_is_consumed_by_one_execution(huey, tasks):
    tasks.add.revoke(revoke_once=True)
    tasks.add(1, 1)
    tasks.add(2, 2)
    first = execute(huey, huey.deserialize_task(huey.storage.dequeue()))
    second = execute(huey, huey.deserialize_task(huey.storage.dequeue()))
    assert (first.outcome, second.outcome) == (Outcome.REVOKED, Outcome.FINISHED)
    assert not tasks.add.is_revoked()


def test_revoke_until_expires(huey, tasks):
    now = datetime.datetime.now()
    tasks.add.revoke(revoke_until=now + datetime.timedelta(hours=1))
    assert tasks.add.is_revoked()
    assert tasks.add.is_revoked(dt=now + datetime.timedelta(minutes=59))
    assert not tasks.add.is_revoked(dt=now + datetime.timedelta(hours=2))
    huey.revoke_by_id("some-id", revoke_until=now - datetime.timedelta(seconds=1))
    assert not huey.is_revoked("some-id")


def test_each_revoke_supersedes_the_last(huey, tasks):
    tasks.add.revoke()
    tasks.add.revoke(revoke_until=datetime.datetime.now() - datetime.timedelta(seconds=1))
    assert not tasks.add.is_revoked()
    result = tasks.add(1, 1)
    result.revoke(revoke_once=True)
    result.revoke()
    assert execute(huey, huey.deserialize_task(huey.storage.dequeue())).outcome is (Outcome.REVOKED)
    assert huey.is_revoked(result.task_id)  # the later, indefinite revoke still stands


def test_class_revoke_versus_instance_restore(huey, tasks):
    result = tasks.add(1, 1)
    huey.revoke_all(tasks.add.task_class)
    assert huey.is_revoked(tasks.add.task_class) and huey.is_revoked(tasks.add)
    assert result.is_revoked()  # instance check includes the class
    result.restore()  # restoring the instance does not undo a class revoke
    assert result.is_revoked()
    assert huey.restore_all(tasks.add) is True
    assert not result.is_revoked()


def test_restore_all_leaves_instance_revokes(huey, tasks):
    result = tasks.add(1, 1)
    result.revoke()
    tasks.add.revoke()
    tasks.add.restore()
    assert not huey.is_revoked(tasks.add)
    assert result.is_revoked()


def test_revoke_all_by_name(huey, tasks):
    huey.revoke_all(tasks.add.name)
    assert tasks.add.is_revoked()
    assert huey.restore_all(tasks.add.name)


def test_reschedule_revokes_original_and_enqueues_copy(huey, tasks):
    result = tasks.add(1, 2)
    new = result.reschedule(delay=60)
    assert new.task_id != result.task_id
    assert result.is_revoked()
    (scheduled,) = huey.scheduled()
    assert scheduled.task_id == new.task_id and scheduled.data == ((1, 2), {})
    now_again = new.reschedule()
    assert huey.pending()[-1].task_id == now_again.task_id


def test_lock_task_as_context_manager_and_decorator(huey):
    lock = huey.lock_task("reports")
    with lock:
        with pytest.raises(TaskLockedException):
            with huey.lock_task("reports"):
                pass
    with huey.lock_task("reports"):  # released on exit
        pass

    @huey.task()
    @huey.lock_task("decorated")
    def locked_job():
        return "done"

    locked_job()
    with huey.lock_task("decorated"):
        task = huey.deserialize_task(huey.storage.dequeue())
        assert execute(huey, task).outcome is Outcome.LOCKED
    assert huey.errors() == []  # a held lock is not an error


def test_locked_task_with_retries_is_retried_without_error(huey):
    @huey.task(retries=1)
    @huey.lock_task("busy")
    def job():
        return "ran"

    result = job()
    with huey.lock_task("busy"):
        task = huey.deserialize_task(huey.storage.dequeue())
        assert execute(huey, task).outcome is Outcome.RETRYING
    assert huey.errors() == []
    assert run_next(huey) == "ran" and result.get() == "ran"


def test_flush_locks_releases_held_locks(huey):
    huey.lock_task("stuck").__enter__()
    assert huey.flush_locks() == {"stuck"}
    with huey.lock_task("stuck"):
        pass


def test_events_are_emitted_for_each_step(huey, tasks, in_thread):
    stream = huey.events_stream()
    listener = in_thread(lambda: [next(stream) for _ in range(2)])
    tasks.add(1, 2)
    run_next(huey)
    started, finished = listener.finish()
    assert (started["status"], finished["status"]) == ("started", "finished")
    assert finished["task"] == tasks.add.name and finished["duration"] >= 0
    assert finished["id"] == started["id"]


def test_events_off_emits_nothing(storage_url):
    huey = Huey("silent", url=storage_url, events=False)
    sent = []
    huey.storage.emit = sent.append  # observe the storage boundary

    @huey.task()
    def job():
        return 1

    job()
    run_next(huey)
    assert sent == []
    huey.flush()
