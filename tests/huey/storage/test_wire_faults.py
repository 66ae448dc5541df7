"""A connection lost after Redis ran a request never runs it twice, and loses nothing: the
wire repeats only what is safe to repeat, and raises otherwise so the in-flight lists and
heartbeats recover the work. A proxy between the storage and the real redis-server cuts the
connection once the server has run the request, before or in the middle of its reply."""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

from huey import Huey
from huey.consumer.worker import Worker
from huey.exceptions import StorageUnavailable
from huey.storage import RedisStorage
from tests.waiting import wait_until

from .faultproxy import BEFORE_REPLY, MID_REPLY, FaultProxy

pytestmark = pytest.mark.slow
CUTS = [BEFORE_REPLY, MID_REPLY]


@pytest.fixture
def proxy(redis_server) -> Iterator[FaultProxy]:
    redis_server.start()
    redis_server.flushdb()
    relay = FaultProxy((redis_server.host, redis_server.port))
    yield relay
    relay.close()


@pytest.fixture
def store(proxy: FaultProxy) -> Iterator[RedisStorage]:
    """A storage talking through the proxy, its connections open and its scripts loaded, so
    the next request is the one a test breaks (a reused connection is where a lost reply
    used to be sent again)."""
    storage = RedisStorage(f"test-{uuid.uuid4().hex[:8]}", url=proxy.url)
    _warm_up(storage)
    yield storage
    storage.close()


def _warm_up(storage: RedisStorage) -> None:
    storage.fetch_many("warm-up", 8, 0.01)
    storage.pop_data("warm-up")


@pytest.fixture
def direct(redis_server) -> redis.Redis:
    """A client that bypasses the proxy, to see what the server really holds."""
    return redis.Redis.from_url(redis_server.url)


def _cut(proxy: FaultProxy, where: str, call, *args):
    """Run ``call`` with the proxy armed to cut its request's reply at ``where``."""
    proxy.arm(where)
    try:
        return call(*args)
    finally:
        assert proxy.fired.is_set(), "the fault never fired"


@pytest.mark.parametrize("where", CUTS)
def test_a_push_whose_reply_was_lost_runs_once(store, proxy, direct, where) -> None:
    with pytest.raises(StorageUnavailable):
        _cut(proxy, where, store.enqueue, b"job")
    assert direct.lrange(store._queue, 0, -1) == [b"job"]


def test_a_connection_found_dead_before_the_write_is_replaced_and_the_call_runs_once(
    store, proxy, direct
) -> None:
    proxy.drop_connections()
    store.enqueue(b"job")  # nothing was written on the dead one: no error, no second run
    assert direct.lrange(store._queue, 0, -1) == [b"job"]


@pytest.mark.parametrize("where", CUTS)
def test_a_batch_whose_reply_was_lost_runs_once(store, proxy, direct, where) -> None:
    def finish_task() -> None:
        with store.batch():
            store.put_error(b"failure")
            store.ack("c1", b"job")

    with pytest.raises(StorageUnavailable):
        _cut(proxy, where, finish_task)
    assert direct.lrange(store._errors, 0, -1) == [b"failure"]


@pytest.mark.parametrize("where", CUTS)
def test_a_dequeue_whose_reply_was_lost_raises_rather_than_take_another(
    store, proxy, where
) -> None:
    """The message is gone with the lost reply, but the caller hears about it: it is not
    given the next message (or None) as if nothing had happened."""
    store.enqueue_many([b"a", b"b"])
    with pytest.raises(StorageUnavailable):
        _cut(proxy, where, store.dequeue)
    assert store.enqueued_items() == [b"b"]


@pytest.mark.parametrize("where", CUTS)
def test_a_schedule_read_whose_reply_was_lost_raises(store, proxy, where) -> None:
    due = datetime.datetime(2030, 1, 1)
    store.add_to_schedule(b"s", due)
    store.read_schedule(due - datetime.timedelta(days=1))  # loads the script: nothing due
    with pytest.raises(StorageUnavailable):
        _cut(proxy, where, store.read_schedule, due)


@pytest.mark.parametrize("where", CUTS)
def test_a_pop_whose_reply_was_lost_still_returns_the_value(store, proxy, where) -> None:
    store.put_data("k", b"value")
    assert _cut(proxy, where, store.pop_data, "k") == b"value"
    assert store.peek_data("k") is None  # popped once, for good


@pytest.mark.parametrize("where", CUTS)
def test_a_pop_of_nothing_whose_reply_was_lost_returns_none(store, proxy, where) -> None:
    assert _cut(proxy, where, store.pop_data, "missing") is None


@pytest.mark.parametrize("where", CUTS)
@pytest.mark.parametrize("limit", [1, 8])
def test_a_fetch_whose_reply_was_lost_leaves_the_message_in_flight(
    store, proxy, direct, where, limit
) -> None:
    store.enqueue_many([b"a", b"b"])
    with pytest.raises(StorageUnavailable):
        _cut(proxy, where, store.fetch_many, "c1", limit, 0.2)
    taken = [b"a", b"b"][:limit]
    assert store.inflight_items("c1") == taken  # where a requeue finds them, and
    assert direct.llen(store._queue) == 2 - len(taken)  # no second fetch took more
    assert store.requeue("c1") == len(taken)
    assert store.fetch_many("c2", 8, 0.2) == [b"a", b"b"]


@pytest.mark.parametrize("where", CUTS)
def test_a_read_whose_reply_was_lost_is_asked_again(store, proxy, where) -> None:
    store.put_data("k", b"value")
    assert _cut(proxy, where, store.peek_data, "k") == b"value"
    assert _cut(proxy, where, store.has_data_for_key, "k") is True
    assert _cut(proxy, where, store.wait_for_data, "k", 1.0) is True


@pytest.mark.parametrize("where", CUTS)
def test_a_worker_whose_fetch_reply_was_lost_runs_the_task_once(proxy, where) -> None:
    """The message the lost reply carried stays in the worker's in-flight list, and the
    worker hands it back and runs it once Redis answers again."""
    huey = Huey(f"test-{uuid.uuid4().hex[:8]}", url=proxy.url)
    _warm_up(huey.storage)
    runs = []

    @huey.task()
    def add(a: int, b: int) -> int:
        runs.append((a, b))
        return a + b

    result = add(1, 2)
    worker = Worker(huey, "w1", threading.Event(), fetch_timeout=0.2)
    assert _cut(proxy, where, worker.step) is None  # the fetch failed: the worker backs off
    assert wait_until(lambda: worker.step() is not None)  # after the backoff: requeue, run
    assert result.get(blocking=True, timeout=5) == 3
    assert runs == [(1, 2)]
    assert huey.storage.inflight_items("w1") == []
    huey.storage.close()


def test_an_event_emitted_right_after_iter_is_heard(proxy, redis_server, in_thread) -> None:
    """iter() returns once the server holds the subscription: an event published on a
    faster connection right after it still reaches the listener."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    slow, fast = RedisStorage(name, url=proxy.url), RedisStorage(name, url=redis_server.url)
    proxy.delay = 0.3  # the SUBSCRIBE reaches the server late
    try:
        events = iter(slow)
        fast.emit("first")
        assert in_thread(next, events).finish() == "first"
        events.close()
    finally:
        slow.close()
        fast.close()
