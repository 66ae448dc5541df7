"""huey 3's classes and constructor options."""

from __future__ import annotations

import datetime
import json
import sqlite3
import time

import pytest
import redis

import huey as package
from huey import (
    BlackHoleHuey,
    Huey,
    MemoryHuey,
    PriorityRedisExpireHuey,
    PriorityRedisHuey,
    RedisExpireHuey,
    RedisHuey,
    SqliteHuey,
)
from huey.serializer import Serializer
from huey.storage import (
    ExpiringRedisStorage,
    MemoryStorage,
    PriorityRedisStorage,
    RedisStorage,
    SqliteStorage,
)


def test_memory_huey_with_utc_false_schedules_in_local_time():
    huey = MemoryHuey("local", utc=False)

    @huey.task()
    def job():
        return 1

    before = datetime.datetime.now()
    job.schedule(delay=60)
    (task,) = huey.scheduled()
    assert huey.utc is False and isinstance(huey.storage, MemoryStorage)
    assert (
        before + datetime.timedelta(seconds=59)
        < task.eta
        < datetime.datetime.now() + (datetime.timedelta(seconds=61))
    )
    assert huey.create_consumer().options.utc is False


def test_sqlite_huey_takes_filename_cache_mb_fsync_and_strict_fifo(tmp_path):
    path = tmp_path / "q.db"
    huey = SqliteHuey(
        "s", filename=str(path), cache_mb=16, fsync=True, strict_fifo=True, journal_mode="wal"
    )

    @huey.task()
    def job(n):
        return n

    for n in range(3):
        job(n)
    assert [t.args for t in huey.pending()] == [(0,), (1,), (2,)]
    conn = huey.storage._connection()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -16 * 1024
    assert sqlite3.connect(path).execute("SELECT count(*) FROM huey_queue").fetchone()[0] == 3


@pytest.mark.parametrize(
    "cls", [RedisHuey, PriorityRedisHuey, RedisExpireHuey, PriorityRedisExpireHuey]
)
def test_redis_classes_take_url_pool_and_huey3_options(cls, redis_server):
    server = redis_server
    server.flushdb()
    by_url = cls("r-url", url=server.url, notify_result=True, clean_name=False)
    pool = redis.ConnectionPool.from_url(server.url)
    expiring = cls in (RedisExpireHuey, PriorityRedisExpireHuey)
    by_pool = cls("r-pool", connection_pool=pool, **({"expire_time": 60} if expiring else {}))

    @by_url.task()
    def job():
        return "done"

    job()
    assert isinstance(by_url.storage, RedisStorage) and isinstance(by_pool.storage, RedisStorage)
    assert by_pool.storage._client.connection_pool is pool
    assert isinstance(by_pool.storage, ExpiringRedisStorage) is expiring
    assert len(by_url) == 1
    assert by_url.execute(by_url.dequeue()) == "done" and len(by_url) == 0
    by_url.flush()


def test_results_false_returns_no_handle_and_store_none_keeps_none():
    no_results = MemoryHuey("n", results=False)
    keeps_none = MemoryHuey("k", store_none=True)

    @no_results.task()
    def a():
        return 1

    @keeps_none.task()
    def b():
        return None

    assert a() is None and no_results.result_store is False
    result = b()
    keeps_none.execute(keeps_none.dequeue())
    assert keeps_none.result_count() == 1 and result.get() is None


def test_immediate_runs_tasks_at_enqueue_on_memory_storage(tmp_path):
    huey = SqliteHuey("i", filename=str(tmp_path / "i.db"), immediate=True)

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def fail():
        raise ValueError("nope")

    assert isinstance(huey.storage, MemoryStorage)
    assert add(1, 2).get() == 3
    pipeline = huey.enqueue(add.s(1, 2).then(add, 10))
    assert [r.get() for r in pipeline] == [3, 13]
    with pytest.raises(package.TaskException):
        fail().get()
    assert not (tmp_path / "i.db").exists()  # nothing touched the real storage


def test_immediate_switches_at_run_time_and_back():
    real = MemoryStorage("real")
    huey = Huey("switch", storage=real)

    @huey.task()
    def job():
        return "ran"

    huey.immediate = True
    assert job().get() == "ran" and huey.storage is not real
    huey.immediate = False
    job()
    assert huey.storage is real and len(huey) == 1


def test_compression_shrinks_messages_and_round_trips(storage_url):
    huey = Huey("c", url=storage_url, compression=True, secret="s")

    @huey.task()
    def echo(text):
        return text

    result = echo("x" * 10_000)
    (raw,) = huey.storage.enqueued_items()
    assert len(raw) < 1000  # the arguments' pickle is compressed
    assert huey.execute(huey.dequeue()) == "x" * 10_000
    assert result.get() == "x" * 10_000
    huey.flush()


def test_a_serializer_subclass_replaces_pickle(storage_url):
    class JSONSerializer(Serializer):
        def _serialize(self, obj):
            return json.dumps(obj).encode()

        def _deserialize(self, body):
            return json.loads(body)

    huey = Huey("j", url=storage_url, serializer=JSONSerializer())

    @huey.task()
    def pair(a, b):
        return {"sum": a + b}

    result = pair(1, 2)
    (raw,) = huey.storage.enqueued_items()
    assert b"[[[1, 2], {}]]" in raw  # the arguments travel as JSON
    assert huey.execute(huey.dequeue()) == {"sum": 3} and result.get() == {"sum": 3}
    huey.flush()


def test_storage_class_option_picks_the_backend(tmp_path):
    huey = Huey("sc", storage_class=SqliteStorage, filename=str(tmp_path / "sc.db"))
    assert isinstance(huey.storage, SqliteStorage)


def test_a_redis_storage_class_with_a_url_keeps_its_queue_and_huey3_names(redis_server):
    from huey.storage import PriorityRedisExpireStorage, RedisExpireStorage

    redis_server.start()
    redis_server.flushdb()
    options = {"expire_time": 60}
    for cls, kwargs in [
        (RedisExpireStorage, options),
        (PriorityRedisExpireStorage, options),
        (PriorityRedisStorage, {}),
    ]:
        huey = Huey("sc-redis", storage_class=cls, url=redis_server.url, **kwargs)
        assert type(huey.storage) is cls
        huey.put("k", 1)
        assert huey.get("k") == 1
        huey.flush()


def test_redis_expire_huey_results_expire_and_redis_huey_keeps_them(redis_server):
    redis_server.start()
    redis_server.flushdb()
    expiring = RedisExpireHuey("r-expire", url=redis_server.url, expire_time=0.3)
    keeping = RedisHuey("r-keep", url=redis_server.url)
    handles = []
    for app in (expiring, keeping):

        @app.task()
        def job():
            return "done"

        handles.append(job())
        app.execute(app.dequeue())
    assert expiring.result_count() == keeping.result_count() == 1
    deadline = time.monotonic() + 10
    while expiring.result_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expiring.result_count() == 0 and handles[0].get() is None
    assert keeping.result_count() == 1 and handles[1].get() == "done"
    expiring.flush()
    keeping.flush()


def test_black_hole_huey_accepts_everything_and_keeps_nothing(run_queued):
    huey = BlackHoleHuey("void")

    @huey.task()
    def job(n):
        return n

    result = job(1)
    job.schedule((2,), delay=60)
    huey.put("k", "v")
    assert len(huey) == huey.scheduled_count() == huey.result_count() == 0
    assert run_queued(huey) == [] and result.get() is None and huey.get("k") is None
    assert huey.lock_task("any").is_locked() is False
    consumer = huey.create_consumer(workers=2)
    consumer.start()  # a consumer idles on it and stops cleanly
    consumer.stop()


def test_priority_redis_expire_huey_orders_by_priority_and_expires_values(redis_server):
    redis_server.start()
    redis_server.flushdb()
    huey = PriorityRedisExpireHuey("r-both", url=redis_server.url, expire_time=60)

    @huey.task()
    def job(n):
        return n

    job.schedule((1,), priority=1)
    job.schedule((9,), priority=9)
    assert huey.execute(huey.dequeue()) == 9
    ttls = [huey.storage._client.pttl(key) for key in huey.storage._kv_keys()]
    assert len(ttls) == 1 and 0 < ttls[0] <= 60_000
    huey.flush()
