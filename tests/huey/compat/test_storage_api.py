"""huey 3's storage API (``huey.storage.<method>``) on every backend: memory, SQLite, files, Redis,
Redis with the priority queue and Redis with expiring values."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

import huey
import huey.api
from huey.constants import WORKER_TYPES, EmptyData
from huey.exceptions import ConfigurationError, StorageError
from huey.storage import (
    BaseStorage,
    FileStorage,
    MemoryStorage,
    PriorityRedisStorage,
    RedisExpireStorage,
    RedisStorage,
    SqliteStorage,
    storage_from_url,
)
from tests.conftest import backend_url

BACKENDS = [
    "memory",
    "sqlite",
    "file",
    "redis",
    "redis-priority",
    "redis-expire",
    "redis-priority-expire",
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[BaseStorage]:
    backend = request.param
    url = backend_url(backend.removesuffix("-expire"), request, tmp_path)
    options = {"expire_time": 60} if backend.endswith("-expire") else {}
    storage = storage_from_url(url, name=f"h3-{uuid.uuid4().hex[:8]}", **options)
    yield storage
    storage.flush_all()
    storage.close()


def _is_plain_redis_list(storage: BaseStorage) -> bool:
    return not storage.priority


# -- queue --------------------------------------------------------------------------------
def test_enqueue_with_a_priority_orders_the_queue_where_the_storage_has_priorities(store):
    if _is_plain_redis_list(store):
        with pytest.raises(NotImplementedError):
            store.enqueue(b"urgent", 5)
        store.enqueue(b"plain", 0)  # 0 and None mean "no priority": accepted
        store.enqueue(b"plain-too", None)
        assert [store.dequeue(), store.dequeue()] == [b"plain", b"plain-too"]
        return
    for number, priority in enumerate((1, None, 5, None, 3, 0)):
        store.enqueue(f"m{number}-{priority}".encode(), priority)
    assert store.enqueued_items(2) == [b"m2-5", b"m4-3"]
    taken = [store.dequeue() for _ in range(6)]
    assert taken == [b"m2-5", b"m4-3", b"m0-1", b"m1-None", b"m3-None", b"m5-0"]
    assert store.dequeue() is None and store.queue_size() == 0


# -- key/value ------------------------------------------------------------------------------
def test_bytes_and_str_keys_name_the_same_entry_and_result_items_has_str_keys(store):
    store.put_data(b"k1", b"v1", is_result=True)
    store.put_data("k2", b"v2")
    assert store.peek_data("k1") == b"v1" and store.peek_data(b"k2") == b"v2"
    assert store.has_data_for_key(b"k1") and store.has_data_for_key("k2")
    assert store.result_items() == {"k1": b"v1", "k2": b"v2"}
    assert store.pop_data(b"k1") == b"v1"
    assert store.peek_data("k1") is None  # not EmptyData: see docs/huey3.md
    assert store.result_store_size() == 1


def test_peek_many_returns_only_the_keys_that_hold_values(store):
    store.put_data("a", b"1")
    store.put_data("c", b"3")
    assert store.peek_many(["a", "b", "c"]) == {"a": b"1", "c": b"3"}
    assert store.peek_many([b"a"]) == {b"a": b"1"}  # keys come back as given
    assert store.peek_many(["missing"]) == {} and store.peek_many([]) == {}
    assert store.result_store_size() == 2  # nothing was taken


def test_delete_data_says_whether_there_was_a_value(store):
    store.put_data("k", b"v")
    assert store.delete_data("k") is True
    assert store.delete_data("k") is False
    assert not store.has_data_for_key("k")


def test_wait_result_waits_for_a_value_put_later(store):
    key = uuid.uuid4().hex
    assert store.wait_result(key, timeout=0.1) is False
    threading.Timer(0.2, store.put_data, (key, b"done"), {"is_result": True}).start()
    assert store.wait_result(key, timeout=10) is True
    assert store.wait_result(key) is True  # no timeout: returns at once when present


def test_put_if_empty_claims_a_key_once(store):
    assert store.put_if_empty(b"claim", b"first") is True
    assert store.put_if_empty("claim", b"second") is False
    assert store.peek_data("claim") == b"first"


def test_put_if_empty_with_a_ttl_expires_or_says_it_cannot(store):
    hash_store = isinstance(store, RedisStorage) and not isinstance(store, RedisExpireStorage)
    if isinstance(store, (SqliteStorage, FileStorage)) or (
        hash_store and not store.supports_hash_ttl
    ):
        with pytest.raises(NotImplementedError):
            store.put_if_empty("lock", b"1", ttl=1)
        assert not store.has_data_for_key("lock")
        return
    assert store.put_if_empty("lock", b"1", ttl=0.3) is True
    assert store.put_if_empty("lock", b"2", ttl=0.3) is False
    if isinstance(store, MemoryStorage):
        return  # huey 3's memory storage ignores the ttl, and so does ours
    deadline = time.monotonic() + 10
    while store.has_data_for_key("lock") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.put_if_empty("lock", b"3") is True


# -- counters -------------------------------------------------------------------------------
def test_counters_count_atomically_apart_from_the_results(store, race):
    assert store.incr("c") == 1
    assert store.incr(b"c", amount=10) == 11
    assert store.incr("c", -5) == 6 and store.incr("c", 0) == 6
    assert store.incr("new", 0) == 0
    assert not store.has_data_for_key("c") and store.result_store_size() == 0
    store.put_data("c", b"a result")
    assert store.incr("c") == 7 and store.pop_data("c") == b"a result"
    store.delete_counter("c")
    store.delete_counter("never-there")
    assert store.incr("c") == 1
    race(8, lambda: [store.incr("raced") for _ in range(20)])
    assert store.incr("raced", 0) == 160
    store.flush_counters()
    assert store.incr("c") == 1 and store.incr("raced") == 1
    store.flush_all()
    assert store.incr("c") == 1


# -- backend options ------------------------------------------------------------------------
def test_sqlite_storage_can_leave_the_schema_to_initialize_schema(tmp_path):
    storage = SqliteStorage(
        "h3", filename=str(tmp_path / "late.db"), create_tables=False, journal_mode="wal"
    )
    with pytest.raises(StorageError, match="no such table"):
        storage.queue_size()
    storage.initialize_schema()
    storage.enqueue(b"m", priority=2)
    assert storage.queue_size() == 1 and storage.priority is True
    storage.close()


def test_sqlite_storage_passes_other_keywords_to_sqlite3_connect(tmp_path):
    storage = SqliteStorage("h3", filename=str(tmp_path / "kw.db"), cached_statements=16)
    storage.put_data("k", b"v")
    assert storage.peek_data("k") == b"v"
    storage.close()


def test_redis_storage_offers_its_client_and_takes_huey3_options(redis_server):
    redis_server.start()
    storage = RedisStorage(
        "h3-opts",
        url=redis_server.url,
        client_name="h3-client",
        blocking=False,
        notify_result=True,
        notify_result_ttl=30,
        clean_name=False,
    )
    storage.conn.set("mine", b"1")  # the redis-py client, for commands of the app's own
    assert storage.conn.get("mine") == b"1"
    assert storage.conn.client_getname() == "h3-client"
    assert storage.priority is False and PriorityRedisStorage.priority is True
    assert isinstance(storage.supports_hash_ttl, bool)
    storage.conn.delete("mine")
    storage.close()


@pytest.mark.parametrize(
    "options",
    [
        {"host": "localhost", "url": "redis://localhost"},
        {"port": 6379, "url": "redis://localhost"},
        {"url": "redis://localhost", "connection_pool": "pool"},
    ],
)
def test_redis_storage_refuses_two_ways_to_reach_the_server(options):
    if options.get("connection_pool") == "pool":
        options = {**options, "connection_pool": redis.ConnectionPool()}
    with pytest.raises(ConfigurationError):
        RedisStorage("h3", **options)


def test_redis_storage_reads_none_as_an_unset_address(redis_server):
    redis_server.start()
    storage = RedisStorage("h3", host=None, port=None, db=None, url=redis_server.url)
    assert storage.queue_size() == 0
    storage.close()


def test_expiring_redis_counters_expire_too(redis_server):
    redis_server.start()
    storage = RedisExpireStorage("h3-exp", url=redis_server.url, expire_time=0.3)
    assert storage.incr("c") == 1
    time.sleep(0.6)  # every incr restarts the clock, so wait without reading the counter
    assert storage.incr("c", 0) == 0
    storage.flush_all()
    storage.close()


# -- modules --------------------------------------------------------------------------------
def test_huey_constants_names_the_worker_types_and_empty_data():
    assert WORKER_TYPES == ("thread", "greenlet", "process")
    assert isinstance(EmptyData, type)


def test_huey_api_offers_huey3s_preset_classes():
    for name in (
        "PriorityRedisHuey",
        "RedisExpireHuey",
        "PriorityRedisExpireHuey",
        "BlackHoleHuey",
    ):
        assert getattr(huey.api, name) is getattr(huey, name)
        assert name in huey.api.__all__


def test_presets_take_huey3s_storage_options(tmp_path, redis_server):
    redis_server.start()
    sqlite_app = huey.SqliteHuey(
        "h3-late", filename=str(tmp_path / "p.db"), create_tables=False, cache_mb=4, fsync=True
    )
    with pytest.raises(StorageError):
        sqlite_app.pending_count()
    sqlite_app.storage.initialize_schema()
    assert sqlite_app.pending_count() == 0
    for cls in (huey.RedisHuey, huey.PriorityRedisHuey, huey.RedisExpireHuey):
        app = cls(
            "h3-preset",
            url=redis_server.url,
            notify_result=True,
            notify_result_ttl=30,
            clean_name=False,
            client_name="h3-preset",
            read_timeout=2,
        )
        assert app.storage.conn.client_getname() == "h3-preset"
        app.put("k", 1)
        assert app.storage.wait_result("k", timeout=1) and app.get("k") == 1
        app.flush()
