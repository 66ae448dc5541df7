"""The Huey API on every backend: decorators, enqueueing, pipelines, hooks, inspection.

Tasks run through ``huey.execute(task)`` (the documented in-process way) or a worker
step, so these tests need no consumer and no sleeps.
"""

from __future__ import annotations

import datetime
import pickle
import threading

import pytest

from huey import (
    CancelExecution,
    Huey,
    MemoryHuey,
    PeriodicQueueTask,
    QueueTask,
    RedisHuey,
    SqliteHuey,
    TaskResultWrapper,
    TaskWrapper,
    crontab,
)
from huey.consumer.worker import Worker
from huey.task import utcnow
from tests.conftest import WAIT


def run_next(huey: Huey):
    """Dequeue and execute the next queued task as a worker would."""
    data = huey.storage.dequeue()
    assert data is not None, "queue is empty"
    return huey.execute(huey.deserialize_task(data))


def drain(huey: Huey) -> list:
    values = []
    while huey.storage.queue_size():
        values.append(run_next(huey))
    return values


def test_task_call_enqueues_and_returns_result_wrapper(huey):
    @huey.task()
    def add(a, b):
        return a + b

    result = add(1, 2)
    assert isinstance(result, TaskResultWrapper)
    assert huey.storage.queue_size() == 1
    assert result.get() is None  # not run yet
    assert run_next(huey) == 3
    assert result.get() == 3
    assert result() == 3  # cached on the wrapper once read


def test_decorated_function_keeps_name_doc_and_call_local(huey):
    @huey.task()
    def count_beans(num):
        """Counts beans."""
        return f"Counted {num} beans"

    assert isinstance(count_beans, TaskWrapper)
    assert count_beans.__name__ == "count_beans"
    assert count_beans.__doc__ == "Counts beans."
    assert count_beans.call_local(1337) == "Counted 1337 beans"
    assert huey.storage.queue_size() == 0
    assert count_beans.task_class.__name__ == "queuecmd_count_beans"
    assert count_beans.task_class.__module__ == __name__
    assert repr(count_beans.task_class) == f"{__name__}.queuecmd_count_beans"


def test_task_names_are_unique_per_module_and_function(huey):
    def make(module):
        def job():
            return module

        job.__module__ = module
        return huey.task()(job)

    first, second = make("app.emails"), make("app.reports")
    assert first.name != second.name
    first()
    second()
    assert sorted(drain(huey)) == ["app.emails", "app.reports"]


def test_explicit_task_name(huey):
    @huey.task(name="custom-name")
    def job():
        return 1

    assert job.name == "custom-name"
    assert huey.pending() == [] and job() and huey.pending()[0].name == "custom-name"


def test_s_creates_unqueued_task_and_enqueue_returns_wrapper(huey):
    @huey.task()
    def add(a, b):
        return a + b

    task = add.s(1, 2)
    assert isinstance(task, QueueTask)
    assert task.data == ((1, 2), {})
    assert huey.storage.queue_size() == 0
    result = huey.enqueue(task)
    assert result.task_id == task.task_id
    assert run_next(huey) == 3


def test_pipeline_passes_results_and_returns_all_wrappers(huey):
    @huey.task()
    def add(a, b):
        return a + b

    pipeline = add.s(1, 2).then(add, 3).then(add, 4).then(add, 5)
    results = huey.enqueue(pipeline)
    assert len(results) == 4
    drain(huey)
    assert [r.get() for r in results] == [3, 6, 10, 15]


def test_pipeline_tuple_becomes_args_and_dict_becomes_kwargs(huey):
    @huey.task()
    def fib(a, b=1):
        a, b = a + b, a
        return (a, b)

    @huey.task()
    def as_kwargs(x):
        return {"greeting": "hi", "name": x}

    @huey.task()
    def greet(greeting, name, punctuation="!"):
        return f"{greeting} {name}{punctuation}"

    fibs = huey.enqueue(fib.s(1).then(fib).then(fib))
    words = huey.enqueue(as_kwargs.s("ann").then(greet, punctuation="?"))
    drain(huey)
    assert [r.get() for r in fibs] == [(2, 1), (3, 2), (5, 3)]
    assert [r.get() for r in words][-1] == "hi ann?"


def test_queue_task_fields_and_defaults():
    task = QueueTask(data="x", task_id="abc", retries=2, retry_delay=5)
    assert (task.data, task.task_id, task.retries, task.retry_delay) == ("x", "abc", 2, 5)
    assert task.execute_time is None and task.on_complete is None
    assert len(QueueTask().task_id) == 36  # a UUID
    with pytest.raises(NotImplementedError):
        QueueTask().execute()


def test_custom_task_base_and_settings(huey):
    class Shouting(QueueTask):
        def execute(self):
            return super().execute().upper()

    wrapper = TaskWrapper(huey, lambda word: word, name="shout", task_base=Shouting, volume=11)
    assert wrapper.task_class.volume == 11
    wrapper("hey")
    assert run_next(huey) == "HEY"


def test_schedule_with_delay_and_eta(huey):
    @huey.task()
    def job(x):
        return x

    before = utcnow()
    by_delay = job.schedule(args=(1,), delay=60)
    eta_local = datetime.datetime.now() + datetime.timedelta(hours=1)
    by_eta = job.schedule(args=(2,), eta=eta_local)
    utc_eta = before + datetime.timedelta(hours=2)
    by_utc_eta = job.schedule(kwargs={"x": 3}, eta=utc_eta, convert_utc=False)
    assert huey.storage.queue_size() == 0
    scheduled = {t.task_id: t for t in huey.scheduled()}
    assert len(scheduled) == 3
    delay_eta = scheduled[by_delay.task_id].execute_time
    assert before + datetime.timedelta(seconds=59) < delay_eta
    assert delay_eta < utcnow() + datetime.timedelta(seconds=61)
    expected_utc = eta_local.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    assert scheduled[by_eta.task_id].execute_time == expected_utc
    assert scheduled[by_utc_eta.task_id].execute_time == utc_eta
    assert [t.task_id for t in huey.scheduled(limit=1)] == [by_delay.task_id]
    overdue = job.schedule(args=(4,), eta=before, convert_utc=False)  # its time has come
    assert [t.task_id for t in huey.pending()] == [overdue.task_id]
    assert huey.storage.schedule_size() == 3


def test_schedule_rejects_eta_and_delay_together(huey):
    @huey.task()
    def job():
        pass

    with pytest.raises(ValueError):
        job.schedule(eta=utcnow(), delay=5)


def test_pending_scheduled_and_limits(huey):
    @huey.task()
    def job(n):
        return n

    for n in range(5):
        job(n)
    assert [t.data for t in huey.pending()] == [((n,), {}) for n in range(5)]
    assert len(huey.pending(limit=2)) == 2
    assert huey.scheduled() == []


def test_map_enqueues_many_in_order(huey):
    @huey.task()
    def square(n):
        return n * n

    results = square.map(range(4))
    assert [t.data[0] for t in huey.pending()] == [(0,), (1,), (2,), (3,)]
    drain(huey)
    assert [r.get() for r in results] == [0, 1, 4, 9]


def test_result_store_disabled_returns_none(storage_url):
    huey = Huey("no-results", url=storage_url, result_store=False)

    @huey.task()
    def job():
        return 1

    assert job() is None
    assert run_next(huey) == 1
    assert huey.all_results() == {}
    huey.flush()


def test_store_none(storage_url):
    huey = Huey("nones", url=storage_url, store_none=True)

    @huey.task()
    def nothing():
        return None

    result = nothing()
    run_next(huey)
    assert result.task_id in huey.all_results()
    assert result.get() is None
    huey.flush()


def test_none_results_are_not_stored_by_default(huey):
    @huey.task()
    def nothing():
        return None

    nothing()
    run_next(huey)
    assert huey.all_results() == {}


def test_all_results_maps_ids_to_pickled_values(huey):
    @huey.task()
    def job(n):
        return n

    results = [job(n) for n in range(3)]
    drain(huey)
    stored = huey.all_results()
    assert {k: pickle.loads(v) for k, v in stored.items()} == {
        r.task_id: n for n, r in enumerate(results)
    }


def test_always_eager_runs_at_call_time():
    huey = MemoryHuey("eager", always_eager=True)

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def boom():
        raise ValueError("no")

    assert add(2, 3) == 5
    assert add.schedule(args=(1, 1), delay=10) == 2
    assert huey.enqueue(add.s(1, 2).then(add, 3)) == [3, 6]
    with pytest.raises(ValueError):
        boom()
    assert huey.storage.queue_size() == 0


def test_retries_as_argument_and_include_task(huey):
    @huey.task(retries=3, retries_as_argument=True)
    def with_retries(retries):
        return retries

    @huey.task(include_task=True)
    def with_task(task=None):
        return task.task_id

    with_retries()
    result = with_task()
    assert run_next(huey) == 3
    assert run_next(huey) == result.task_id


def test_hooks_run_in_registration_order_and_can_be_unregistered(huey):
    calls = []

    @huey.pre_execute()
    def first(task):
        calls.append(("pre1", task.name))

    huey.register_pre_execute("second", lambda task: calls.append(("pre2", task.name)))

    @huey.post_execute()
    def after(task, value, exc):
        calls.append(("post", value, exc))

    @huey.task(name="job")
    def job():
        return 7

    job()
    run_next(huey)
    assert calls == [("pre1", "job"), ("pre2", "job"), ("post", 7, None)]
    assert huey.unregister_pre_execute("first") is True
    assert huey.unregister_pre_execute("first") is False
    assert huey.unregister_post_execute("after") is True
    calls.clear()
    job()
    run_next(huey)
    assert calls == [("pre2", "job")]


def test_cancel_execution_from_pre_hook_skips_task(huey):
    ran = []

    @huey.pre_execute()
    def veto(task):
        raise CancelExecution()

    @huey.task()
    def job():
        ran.append(1)

    result = job()
    run_next(huey)
    assert ran == [] and result.get() is None


def test_failing_hooks_are_logged_and_do_not_cancel(huey, caplog):
    @huey.pre_execute()
    def broken_pre(task):
        raise RuntimeError("pre broke")

    @huey.post_execute()
    def broken_post(task, value, exc):
        raise RuntimeError("post broke")

    @huey.task()
    def job():
        return "ran"

    result = job()
    assert run_next(huey) == "ran"
    assert result.get() == "ran"
    assert "broken_pre" in caplog.text and "broken_post" in caplog.text


def test_post_hook_receives_exception(huey):
    seen = []
    huey.register_post_execute("watch", lambda task, value, exc: seen.append(exc))

    @huey.task()
    def boom():
        raise KeyError("k")

    boom()
    assert run_next(huey) is None
    assert isinstance(seen[0], KeyError)


def test_periodic_task_registration(huey):
    @huey.periodic_task(crontab(minute="*/5"))
    def every_five():
        return "tick"

    classes = huey.periodic_tasks()
    assert [c.name for c in classes] == [every_five.name]
    assert issubclass(classes[0], PeriodicQueueTask)
    assert classes[0].is_due(datetime.datetime(2026, 1, 1, 12, 5))
    assert not classes[0].is_due(datetime.datetime(2026, 1, 1, 12, 6))
    assert every_five.call_local() == "tick"


def test_named_backends_and_url_selection(tmp_path, redis_server):
    from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

    assert isinstance(MemoryHuey("m").storage, MemoryStorage)
    assert isinstance(SqliteHuey("s", filename=str(tmp_path / "s.db")).storage, SqliteStorage)
    assert isinstance(RedisHuey("r", url=redis_server.url).storage, RedisStorage)
    assert isinstance(Huey("u", url=f"sqlite:///{tmp_path}/u.db").storage, SqliteStorage)
    assert isinstance(Huey("u", url="memory://").storage, MemoryStorage)


def test_constructing_huey_connects_to_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    huey = Huey("lazy")
    assert not list(tmp_path.iterdir())
    assert huey.storage.queue_size() == 0  # first use creates the default SQLite file
    assert (tmp_path / "huey.db").exists()


def test_threads_first_using_the_storage_at_once_share_one(in_thread):
    # A consumer starting in a thread while the app enqueues: were each to build its own
    # in-memory storage, the task would wait in a queue that no worker reads.
    builds: list[str] = []
    entered, second_build, release = threading.Event(), threading.Event(), threading.Event()

    class SlowToBuild(MemoryHuey):
        def get_storage(self, **storage_kwargs):
            builds.append(threading.current_thread().name)
            (second_build if len(builds) > 1 else entered).set()
            release.wait(WAIT)
            return super().get_storage(**storage_kwargs)

    huey = SlowToBuild("once")
    first = in_thread(lambda: huey.storage)
    assert entered.wait(WAIT)
    second = in_thread(lambda: huey.storage)
    second_build.wait(0.5)  # without the guard, the second thread builds one too by now
    release.set()
    assert first.finish() is second.finish() is huey.storage
    assert len(builds) == 1


def test_use_storage_repoints_an_instance(tmp_path):
    huey = MemoryHuey("moved")
    huey.use_storage(f"sqlite:///{tmp_path}/moved.db")

    @huey.task()
    def job():
        return 1

    job()
    assert (tmp_path / "moved.db").exists()
    assert huey.storage.queue_size() == 1


def test_signed_messages_round_trip_and_reject_tampering(storage_url):
    from huey.exceptions import SignatureError

    signed = Huey("signed", url=storage_url, secret="s3cret")
    unsigned = Huey("signed", url=storage_url)

    @signed.task(name="job")
    def job(x):
        return x

    unsigned.register(job.task_class)
    job(5)
    data = signed.storage.dequeue()
    assert signed.deserialize_task(data).data == ((5,), {})
    with pytest.raises(SignatureError):
        signed.deserialize_task(unsigned.serialize_task(job.s(6)))
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(SignatureError):
        signed.deserialize_task(tampered)
    signed.flush()


def test_tampered_message_is_recorded_not_executed(storage_url):
    signed = Huey("tamper", url=storage_url, secret="s3cret")
    ran = []

    @signed.task(name="job")
    def job():
        ran.append(1)

    job()
    data = signed.storage.dequeue()
    signed.storage.enqueue(data[:-1] + bytes([data[-1] ^ 1]))
    worker = Worker(signed, "w1", stop=_NeverStop())
    assert worker.step() is None
    assert ran == []
    errors = signed.errors()
    assert len(errors) == 1 and "SignatureError" in errors[0]["error"]
    assert errors[0]["payload"]  # the raw message is kept, nothing is lost
    assert signed.storage.inflight_size() == 0
    signed.flush()


class _NeverStop:
    def is_set(self) -> bool:
        return False

    def wait(self, timeout=None) -> bool:
        return False
