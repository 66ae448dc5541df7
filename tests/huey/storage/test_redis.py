"""Redis-only behaviour: Lua atomicity, key layout, the pre-6.2 fallback, lost servers."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
import redis

from huey import Huey
from huey.exceptions import ConfigurationError, CorruptEntry, StorageError, StorageUnavailable
from huey.storage import PriorityRedisStorage, RedisStorage

DUE = datetime.datetime(2030, 1, 1)


@pytest.fixture
def store(redis_server) -> Iterator[RedisStorage]:
    redis_server.start()
    redis_server.flushdb()
    storage = RedisStorage(f"test-{uuid.uuid4().hex[:8]}", url=redis_server.url)
    yield storage
    storage.flush_all()
    storage.close()


def test_racing_schedulers_each_take_a_due_message_once(store: RedisStorage, race) -> None:
    items = [b"job-%d" % i for i in range(200)]
    for i, item in enumerate(items):
        store.add_to_schedule(item, DUE + datetime.timedelta(microseconds=i))
    taken = race(4, lambda: store.read_schedule(DUE + datetime.timedelta(seconds=1)))
    assert sorted(item for batch in taken for item in batch) == sorted(items)
    assert store.schedule_size() == 0


def test_scripts_run_against_a_server_that_forgot_them(store: RedisStorage) -> None:
    store.enqueue_many([b"a", b"b"])
    assert store.fetch_many("c1", 2, timeout=1) == [b"a", b"b"]
    store._client.script_flush()  # as after a Redis restart
    assert store.requeue("c1") == 2
    assert store.read_schedule(DUE) == []
    assert store.fetch_many("c1", 2, timeout=1) == [b"a", b"b"]
    with store.batch():
        store.ack("c1", b"a")
        store.put_data("k", b"v")
    store._client.script_flush()
    assert store.peek_or_emit(["k", "other"], "started") == [b"v", None]


def test_an_error_reply_leaves_the_connection_in_step(store: RedisStorage) -> None:
    store.put_data("k", b"v")
    with pytest.raises(StorageError, match="WRONGTYPE"):
        with store.batch():
            store.enqueue(b"job")
            store.emit("x")
            store._write(("LPUSH", store._results, b"wrong type"))  # the results are a hash
            store.put_data("k2", b"v2")
    assert store.peek_data("k2") == b"v2"  # the commands after the error ran, and
    assert store.queue_size() == 1  # every reply was read: the next call gets its own


def test_a_connection_the_server_dropped_is_reopened(store: RedisStorage, redis_server) -> None:
    store.enqueue(b"a")
    redis.Redis.from_url(redis_server.url).client_kill_filter(_type="normal", skipme=True)
    store.enqueue(b"b")  # the first write on the dead socket fails and is sent again
    assert store.fetch_many("c1", 5, timeout=1) == [b"a", b"b"]


def test_threads_taking_turns_share_one_connection(store: RedisStorage, in_thread) -> None:
    def connections() -> int:
        return len(store._client.client_list())

    in_thread(store.enqueue, b"first").finish()
    before = connections()
    for n in range(20):
        in_thread(store.enqueue, b"job-%d" % n).finish()
    assert connections() == before
    store.close()
    assert connections() < before  # closed, and opened again on the next call
    assert store.fetch("c1", timeout=1) == b"first"


def test_large_values_cross_the_wire_intact(store: RedisStorage) -> None:
    payload = bytes(range(256)) * 8192  # 2 MB
    store.enqueue(payload)
    store.put_data("big", payload)
    assert store.fetch("c1", timeout=1) == payload
    assert store.peek_data("big") == payload


def test_a_long_fetch_waits_in_several_blocking_calls(
    store: RedisStorage, in_thread, monkeypatch
) -> None:
    monkeypatch.setattr("huey.storage.redis._LONGEST_BLOCK", 0.05)
    consumer = in_thread(store.fetch, "c1", 10)
    consumer.join(0.3)
    assert consumer.is_alive()  # still waiting past several blocking calls
    store.enqueue(b"job")
    assert consumer.finish() == b"job"


def test_every_key_lives_under_the_instance_prefix(store: RedisStorage, redis_server) -> None:
    store.enqueue_many([b"a", b"b"])
    store.fetch("c1", timeout=1)
    store.add_to_schedule(b"s", DUE)
    store.put_data("k", b"v")
    store.put_error(b"e")
    keys = redis.Redis.from_url(redis_server.url).keys("*")
    assert keys and all(key.startswith(f"huey:{{{store.name}}}:".encode()) for key in keys)
    store.flush_all()
    assert redis.Redis.from_url(redis_server.url).keys("*") == []


def test_servers_before_6_2_fetch_with_brpoplpush(store: RedisStorage, in_thread) -> None:
    store._has_blmove = False  # what the version check decides on Redis 6.0 and 6.1
    store.enqueue_many([b"a", b"b"])
    assert store.fetch("c1", timeout=1) == b"a"
    assert store.inflight_items("c1") == [b"a"]
    waiter = in_thread(store.wait_for_data, "k", 10)
    store.put_data("k", b"v")
    assert waiter.finish() is True


def test_a_value_put_and_flushed_does_not_make_waiters_spin(
    store: RedisStorage, monkeypatch
) -> None:
    blocking_moves = []
    real_move = store._blocking_move
    monkeypatch.setattr(
        store, "_blocking_move", lambda *args: blocking_moves.append(args) or real_move(*args)
    )
    store.put_data("k", b"v")
    store.flush_results()  # leaves the wake-up token behind
    assert store.wait_for_data("k", 0.2) is False
    assert len(blocking_moves) <= 2  # woke once on the stale token, then slept


def test_a_client_that_decodes_responses_is_refused(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisStorage("x", client=client)


def test_a_stopped_server_raises_storage_unavailable_then_recovers(
    store: RedisStorage, redis_server
) -> None:
    store.enqueue(b"before")
    redis_server.stop()
    try:
        calls = {
            "enqueue": lambda: store.enqueue(b"x"),
            "fetch": lambda: store.fetch("c1", 0.1),
            "queue_size": store.queue_size,
            "read_schedule": lambda: store.read_schedule(DUE),
            "requeue_expired": lambda: store.requeue_expired(1.0),
            "wait_for_data": lambda: store.wait_for_data("k", 0.1),
            "wait_schedule_change": lambda: store.wait_schedule_change(0.1),
            "events": lambda: iter(store),
            "batch": lambda: _write_in_batch(store),
        }
        for name, call in calls.items():
            with pytest.raises(StorageUnavailable) as raised:
                call()
            assert isinstance(raised.value.__cause__, redis.ConnectionError), name
    finally:
        redis_server.start()
    store.enqueue(b"after")  # reconnects by itself; the data died with the server
    assert store.enqueued_items() == [b"after"]
    assert store.requeue_expired(1.0) == 0  # scripts are loaded again
    store.wait_schedule_change(0.01)


def _write_in_batch(store: RedisStorage) -> None:
    with store.batch():
        store.put_data("k", b"v")
        store.emit("done")


def test_a_server_lost_during_a_blocking_call_raises(store, redis_server, in_thread) -> None:
    events = iter(store)
    listener = in_thread(next, events)
    consumer = in_thread(store.fetch, "c1", 30)
    consumer.join(0.1)
    assert consumer.is_alive()
    try:
        redis_server.stop()
        with pytest.raises(StorageUnavailable):
            consumer.finish()
        with pytest.raises(StorageUnavailable):
            listener.finish()
    finally:
        redis_server.start()
    assert store.fetch("c1", 0.01) is None


@pytest.mark.parametrize("through", ["kwargs", "url"])
def test_max_errors_keeps_the_newest_errors(redis_server, through) -> None:
    redis_server.start()
    name = f"test-{uuid.uuid4().hex[:8]}"
    if through == "kwargs":
        huey = Huey(name, url=redis_server.url, max_errors=3)
    else:
        huey = Huey(name, url=f"{redis_server.url}?max_errors=3")
    for n in range(5):
        huey.record_error({"error": f"e{n}"})
    assert [e["error"] for e in huey.errors()] == ["e4", "e3", "e2"]
    huey.flush()
    huey.storage.close()


def test_read_timeout_bounds_each_blocking_read(redis_server) -> None:
    redis_server.start()
    name = f"test-{uuid.uuid4().hex[:8]}"
    for storage in (
        RedisStorage(name, url=redis_server.url, read_timeout=0.25),
        RedisStorage(name, url=f"{redis_server.url}?read_timeout=0.25"),
    ):
        assert storage.read_timeout == 0.25
        assert storage._blocking_move("a", "b", timeout=10)[-1] == 0.25
        assert storage.fetch_many("c", 1, timeout=0.5) == []
        storage.close()
    assert RedisStorage(name, url=redis_server.url).read_timeout == 1.0


@pytest.mark.parametrize(
    "kwargs", [{"max_errors": 0}, {"read_timeout": 0}, {"url": "redis://127.0.0.1/0?max_errors=x"}]
)
def test_bad_storage_options_are_refused(kwargs) -> None:
    with pytest.raises(ConfigurationError):
        RedisStorage("x", **kwargs)


def test_options_leave_the_rest_of_a_unix_url_intact() -> None:
    storage = RedisStorage("x", url="unix:///tmp/redis.sock?db=2&max_errors=7")
    assert (storage.where, storage.max_errors) == ("/tmp/redis.sock", 7)
    assert storage._client.get_connection_kwargs()["db"] == 2


def test_the_priority_queue_keeps_at_most_one_wake_up_token_per_message(redis_server) -> None:
    redis_server.start()
    store = PriorityRedisStorage(f"test-{uuid.uuid4().hex[:8]}", url=redis_server.url)
    tokens = store._client.llen
    store.enqueue_many([b"a", b"b", b"c"])
    assert tokens(store._wake) == 3  # one per idle worker that may be waiting
    assert store.fetch_many("c1", 2, timeout=1) == [b"a", b"b"]  # taken without blocking
    assert tokens(store._wake) == 1
    assert store.dequeue() == b"c"
    assert tokens(store._wake) == 0
    store.flush_all()
    store.close()


def test_a_foreign_value_under_the_priority_queue_key_is_taken_away(redis_server) -> None:
    redis_server.start()
    store = PriorityRedisStorage(f"test-{uuid.uuid4().hex[:8]}", url=redis_server.url)
    store._client.rpush(store._queue, b"list, not a sorted set")
    with pytest.raises(CorruptEntry, match="not a zset"):
        store.fetch("c1", timeout=0.1)
    store.enqueue(b"a")
    assert store.fetch("c1", timeout=1) == b"a"
    store.flush_all()
    store.close()
