"""The BaseStorage contract: every test runs against memory, SQLite, files and Redis alike."""

from __future__ import annotations

import datetime
import threading
import uuid

import pytest

from huey.storage import BaseStorage, storage_from_url
from huey.storage.base import to_score
from tests.conftest import backend_url

WAIT = 10.0  # what a waiting call is given; tests never wait this long when they pass
T0 = datetime.datetime(2030, 1, 1, 12, 0, 0)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


@pytest.fixture(params=["memory", "sqlite", "file", "redis", "redis-priority"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Every backend, and Redis's priority queue too."""
    return backend_url(request.param, request, tmp_path)


# -- queue ------------------------------------------------------------------------
def test_queue_is_first_in_first_out(storage: BaseStorage) -> None:
    storage.enqueue(b"one")
    storage.enqueue_many([b"two", b"three"])
    assert storage.queue_size() == 3
    assert [storage.dequeue() for _ in range(3)] == [b"one", b"two", b"three"]
    assert storage.dequeue() is None


def test_enqueued_items_are_oldest_first_and_limited(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b", b"c"])
    assert storage.enqueued_items() == [b"a", b"b", b"c"]
    assert storage.enqueued_items(limit=2) == [b"a", b"b"]
    assert storage.enqueued_items(limit=0) == []
    assert storage.queue_size() == 3  # inspection removes nothing


def test_unqueue_removes_every_copy(storage: BaseStorage) -> None:
    storage.enqueue_many([b"x", b"keep", b"x"])
    assert storage.unqueue(b"x") == 2
    assert storage.unqueue(b"missing") == 0
    assert storage.enqueued_items() == [b"keep"]


def test_flush_queue(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b"])
    storage.flush_queue()
    assert storage.queue_size() == 0


def test_binary_payloads_survive_unchanged(storage: BaseStorage) -> None:
    payload = bytes(range(256)) * 4
    storage.enqueue(payload)
    storage.put_data("blob", payload)
    assert storage.dequeue() == payload
    assert storage.peek_data("blob") == payload


# -- in-flight --------------------------------------------------------------------
def test_fetch_records_the_message_in_flight_until_ack(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b"])
    assert storage.fetch("c1", timeout=1) == b"a"
    assert storage.fetch("c2", timeout=1) == b"b"
    assert storage.queue_size() == 0
    assert storage.inflight_items("c1") == [b"a"]
    assert storage.inflight_items() == [b"a", b"b"]
    assert storage.inflight_size() == 2
    storage.ack("c1", b"a")
    storage.ack("c1", b"b")  # not c1's: nothing happens
    assert storage.inflight_items("c1") == []
    assert storage.inflight_items() == [b"b"]


def test_ack_forgets_only_one_copy(storage: BaseStorage) -> None:
    storage.enqueue_many([b"same", b"same"])
    storage.fetch("c1", timeout=1)
    storage.fetch("c1", timeout=1)
    storage.ack("c1", b"same")
    assert storage.inflight_items("c1") == [b"same"]


def test_fetch_times_out_with_none(storage: BaseStorage) -> None:
    assert storage.fetch("c1", timeout=0.05) is None
    assert storage.inflight_size() == 0


def test_fetch_blocks_until_a_producer_enqueues(storage: BaseStorage, in_thread) -> None:
    consumer = in_thread(storage.fetch, "c1", WAIT)
    consumer.join(0.05)
    assert consumer.is_alive()  # still waiting: the queue is empty
    storage.enqueue(b"job")
    assert consumer.finish() == b"job"
    assert storage.inflight_items("c1") == [b"job"]


def test_concurrent_fetches_never_share_a_message(storage: BaseStorage, race) -> None:
    storage.enqueue_many([b"m%d" % i for i in range(40)])
    counter = iter(range(1000))

    def drain() -> list[bytes]:
        consumer_id, got = f"c{next(counter)}", []
        while (item := storage.fetch(consumer_id, timeout=0.01)) is not None:
            got.append(item)
        return got

    taken = [item for items in race(4, drain) for item in items]
    assert sorted(taken) == sorted(b"m%d" % i for i in range(40))


def test_requeue_puts_messages_back_at_the_head_in_order(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b", b"c"])
    storage.fetch("c1", timeout=1)
    storage.fetch("c1", timeout=1)
    assert storage.requeue("c1") == 2
    assert storage.enqueued_items() == [b"a", b"b", b"c"]
    assert storage.inflight_items("c1") == []
    assert storage.requeue("c1") == 0


def test_requeue_expired_only_touches_stale_consumers(storage: BaseStorage) -> None:
    storage.enqueue_many([b"dead-1", b"alive-1", b"dead-2"])
    storage.fetch("dead", timeout=1)
    storage.fetch("alive", timeout=1)
    storage.fetch("dead", timeout=1)
    storage.heartbeat("dead", 100.0)
    storage.heartbeat("alive", 200.0)
    assert storage.requeue_expired(cutoff=150.0) == 2
    assert storage.enqueued_items() == [b"dead-1", b"dead-2"]
    assert storage.inflight_items() == [b"alive-1"]
    assert storage.requeue_expired(cutoff=150.0) == 0  # the dead consumer was forgotten


def test_heartbeats_lists_each_consumer_with_its_last_beat(storage: BaseStorage) -> None:
    assert storage.heartbeats() == {}
    storage.heartbeat("c1", 100.0)
    storage.heartbeat("c2", 150.5)
    storage.heartbeat("c1", 200.25)
    assert storage.heartbeats() == {"c1": 200.25, "c2": 150.5}
    storage.requeue("c2")
    assert storage.heartbeats() == {"c1": 200.25}


def test_fetch_many_takes_what_is_waiting_up_to_the_limit(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b", b"c", b"d", b"e"])
    assert storage.fetch_many("c1", 3, timeout=1) == [b"a", b"b", b"c"]
    assert storage.inflight_items("c1") == [b"a", b"b", b"c"]
    assert storage.enqueued_items() == [b"d", b"e"]
    assert storage.fetch_many("c2", 10, timeout=1) == [b"d", b"e"]
    assert storage.fetch_many("c2", 10, timeout=0.05) == []


def test_fetch_many_blocks_only_until_the_first_message(storage: BaseStorage, in_thread) -> None:
    consumer = in_thread(storage.fetch_many, "c1", 5, WAIT)
    consumer.join(0.05)
    assert consumer.is_alive()
    storage.enqueue(b"job")
    assert consumer.finish() == [b"job"]
    assert storage.inflight_items("c1") == [b"job"]


def test_a_batch_not_yet_run_goes_back_with_requeue(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b", b"c", b"d"])
    storage.fetch_many("c1", 3, timeout=1)
    storage.ack("c1", b"a")  # ran; b and c were only held
    assert storage.requeue("c1") == 2
    assert storage.enqueued_items() == [b"b", b"c", b"d"]


def test_a_batch_is_requeued_when_its_consumer_stops_beating(storage: BaseStorage) -> None:
    storage.enqueue_many([b"a", b"b"])
    storage.fetch_many("dead", 2, timeout=1)
    assert storage.requeue_expired(cutoff=0.0) == 0  # alive from its fetch
    storage.heartbeat("dead", 10.0)
    assert storage.requeue_expired(cutoff=20.0) == 2
    assert storage.enqueued_items() == [b"a", b"b"]


def test_a_consumer_is_alive_from_its_first_fetch(storage: BaseStorage) -> None:
    storage.enqueue(b"job")
    storage.fetch("never-beat", timeout=1)
    assert storage.requeue_expired(cutoff=0.0) == 0
    storage.heartbeat("never-beat", 10.0)
    assert storage.requeue_expired(cutoff=20.0) == 1


def test_racing_requeue_expired_never_requeues_twice(storage: BaseStorage, race) -> None:
    items = [b"job-%d" % i for i in range(30)]
    storage.enqueue_many(items)
    for _ in items:
        storage.fetch("dead", timeout=1)
    storage.heartbeat("dead", 1.0)
    moved = race(4, lambda: storage.requeue_expired(cutoff=2.0))
    assert sum(moved) == 30
    assert storage.enqueued_items() == items


# -- schedule ---------------------------------------------------------------------
def test_schedule_is_ordered_by_time(storage: BaseStorage) -> None:
    storage.add_to_schedule(b"later", at(20))
    storage.add_to_schedule(b"sooner", at(10))
    storage.add_to_schedule(b"latest", at(30))
    assert storage.schedule_size() == 3
    assert storage.scheduled_items() == [b"sooner", b"later", b"latest"]
    assert storage.scheduled_items(limit=1) == [b"sooner"]
    assert storage.next_scheduled_score() == to_score(at(10))


def test_read_schedule_takes_what_is_due_including_the_boundary(storage: BaseStorage) -> None:
    storage.add_to_schedule(b"due", at(10))
    storage.add_to_schedule(b"exactly-now", at(20))
    storage.add_to_schedule(b"a-microsecond-late", at(20.000001))
    assert storage.read_schedule(at(0)) == []
    assert storage.read_schedule(at(20)) == [b"due", b"exactly-now"]
    assert storage.scheduled_items() == [b"a-microsecond-late"]
    assert storage.read_schedule(at(20)) == []


def test_same_time_is_ordered_by_message_and_re_adding_moves_it(storage: BaseStorage) -> None:
    storage.add_to_schedule(b"b", at(5))
    storage.add_to_schedule(b"a", at(5))
    storage.add_to_schedule(b"moved", at(1))
    storage.add_to_schedule(b"moved", at(9))
    assert storage.scheduled_items() == [b"a", b"b", b"moved"]


def test_enqueue_due_moves_what_is_due_to_the_queue_tail(storage: BaseStorage) -> None:
    storage.enqueue(b"already-queued")
    storage.add_to_schedule(b"later", T0 + datetime.timedelta(seconds=10))
    storage.add_to_schedule(b"second", T0 + datetime.timedelta(seconds=2))
    storage.add_to_schedule(b"first", T0 + datetime.timedelta(seconds=1))
    assert storage.enqueue_due(T0) == 0
    assert storage.enqueue_due(T0 + datetime.timedelta(seconds=2)) == 2
    assert storage.enqueued_items() == [b"already-queued", b"first", b"second"]
    assert storage.scheduled_items() == [b"later"]


def test_enqueue_due_wakes_a_waiting_fetch(storage: BaseStorage, in_thread) -> None:
    fetcher = in_thread(storage.fetch, "c1", 5.0)
    storage.add_to_schedule(b"due", T0)
    storage.enqueue_due(T0)
    assert fetcher.finish() == b"due"


def test_next_scheduled_score_and_flush_schedule(storage: BaseStorage) -> None:
    assert storage.next_scheduled_score() is None
    storage.add_to_schedule(b"x", at(1))
    storage.flush_schedule()
    assert storage.schedule_size() == 0
    assert storage.next_scheduled_score() is None


def test_aware_timestamps_are_read_as_utc(storage: BaseStorage) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    storage.add_to_schedule(b"x", datetime.datetime(2030, 1, 1, 14, 0, tzinfo=plus_two))
    assert storage.next_scheduled_score() == to_score(datetime.datetime(2030, 1, 1, 12, 0))


def test_wait_schedule_change_wakes_when_something_is_scheduled(
    storage: BaseStorage, in_thread
) -> None:
    ready = threading.Event()

    def scheduler() -> None:
        storage.wait_schedule_change(60)  # the first call starts listening and returns
        ready.set()
        storage.wait_schedule_change(60)

    waiter = in_thread(scheduler)
    assert ready.wait(WAIT)
    storage.add_to_schedule(b"x", at(1))
    waiter.finish()  # well before WAIT: woken, not timed out


def test_a_change_between_two_waits_is_not_missed(storage: BaseStorage, in_thread) -> None:
    def scheduler() -> None:
        storage.wait_schedule_change(60)  # returns at once: this thread starts listening
        storage.add_to_schedule(b"x", at(1))
        storage.wait_schedule_change(60)  # returns at once: the change came before it
        storage.wait_schedule_change(0.02)  # nothing new since: times out

    in_thread(scheduler).finish()


# -- key/value --------------------------------------------------------------------
def test_put_peek_pop(storage: BaseStorage) -> None:
    assert storage.peek_data("k") is None
    assert not storage.has_data_for_key("k")
    storage.put_data("k", b"v1")
    storage.put_data("k", b"v2")
    assert storage.has_data_for_key("k")
    assert storage.peek_data("k") == b"v2"
    assert storage.result_store_size() == 1
    assert storage.result_items() == {"k": b"v2"}
    assert storage.pop_data("k") == b"v2"
    assert storage.pop_data("k") is None
    assert not storage.has_data_for_key("k")


def test_flush_results(storage: BaseStorage) -> None:
    storage.put_data("a", b"1")
    storage.flush_results()
    assert storage.result_store_size() == 0


def test_put_if_empty_has_exactly_one_winner(storage: BaseStorage, race) -> None:
    counter = iter(range(1000))

    def claim() -> tuple[bool, bytes]:
        mine = b"owner-%d" % next(counter)
        return storage.put_if_empty("lock", mine), mine

    outcomes = race(8, claim)
    winners = [mine for won, mine in outcomes if won]
    assert len(winners) == 1
    assert storage.peek_data("lock") == winners[0]


def test_wait_for_data_wakes_when_the_value_arrives(storage: BaseStorage, in_thread) -> None:
    waiter = in_thread(storage.wait_for_data, "result", WAIT)
    waiter.join(0.02)
    assert waiter.is_alive()
    storage.put_data("result", b"42")
    assert waiter.finish() is True


def test_wait_for_data_wakes_every_waiter(storage: BaseStorage, in_thread) -> None:
    waiters = [in_thread(storage.wait_for_data, "shared", WAIT) for _ in range(3)]
    storage.put_data("shared", b"v")
    assert [waiter.finish() for waiter in waiters] == [True, True, True]


def test_wait_for_data_times_out_or_returns_at_once(storage: BaseStorage) -> None:
    assert storage.wait_for_data("nothing", 0.05) is False
    storage.put_data("there", b"v")
    assert storage.wait_for_data("there", 0) is True


def test_a_popped_value_does_not_wake_a_later_waiter(storage: BaseStorage) -> None:
    storage.put_data("k", b"v")
    storage.pop_data("k")
    assert storage.wait_for_data("k", 0.05) is False


# -- errors -----------------------------------------------------------------------
def test_errors_are_newest_first_with_limit_and_offset(storage: BaseStorage) -> None:
    for i in range(5):
        storage.put_error(b"e%d" % i)
    assert storage.error_count() == 5
    assert storage.get_errors() == [b"e4", b"e3", b"e2", b"e1", b"e0"]
    assert storage.get_errors(limit=2) == [b"e4", b"e3"]
    assert storage.get_errors(limit=2, offset=2) == [b"e2", b"e1"]
    assert storage.get_errors(offset=4) == [b"e0"]
    storage.flush_errors()
    assert storage.error_count() == 0


# -- events -----------------------------------------------------------------------
def test_events_reach_a_listener_in_another_thread(storage: BaseStorage, in_thread) -> None:
    events = iter(storage)  # subscribed from here on
    listener = in_thread(lambda: [next(events) for _ in range(3)])
    for i in range(3):
        storage.emit(f'{{"n": {i}}}')
    assert listener.finish() == ['{"n": 0}', '{"n": 1}', '{"n": 2}']


def test_peek_or_emit_announces_only_when_every_key_is_empty(
    storage: BaseStorage, in_thread
) -> None:
    events = iter(storage)
    storage.put_data("set", b"v")
    assert storage.peek_or_emit(["unset", "set"], "not sent") == [None, b"v"]
    assert storage.peek_or_emit(["unset", "other"], None) == [None, None]
    assert storage.peek_or_emit(["unset", "other"], "sent") == [None, None]
    storage.emit("after")
    assert in_thread(lambda: [next(events), next(events)]).finish() == ["sent", "after"]


def test_peek_or_emit_in_a_batch_is_answered_when_the_batch_ends(
    storage: BaseStorage, in_thread
) -> None:
    events = iter(storage)
    storage.put_data("set", b"v")
    with storage.batch():
        storage.emit("first")
        storage.put_data("written", b"w")
        found = storage.peek_or_emit(["set"], "not sent")
        empty = storage.peek_or_emit(["unset"], "sent")
        after_write = storage.peek_or_emit(["written"], "not sent either")
    assert (found, empty, after_write) == ([b"v"], [None], [b"w"])
    storage.emit("last")
    assert in_thread(lambda: [next(events) for _ in range(3)]).finish() == [
        "first",
        "sent",
        "last",
    ]


def test_every_listener_gets_every_event(storage: BaseStorage, in_thread) -> None:
    first, second = iter(storage), iter(storage)
    storage.emit("hello")
    assert in_thread(next, first).finish() == in_thread(next, second).finish() == "hello"


# -- batch ------------------------------------------------------------------------
def test_batch_commits_every_write_at_its_end(storage: BaseStorage, in_thread) -> None:
    storage.enqueue(b"job")
    storage.fetch("c1", timeout=1)
    events = iter(storage)
    with storage.batch():
        storage.put_data("result", b"done")
        storage.ack("c1", b"job")
        storage.emit("finished")
        storage.enqueue(b"next")
        storage.enqueue_many([b"n2"])
        storage.add_to_schedule(b"later", at(1))
        storage.put_error(b"err")
        storage.heartbeat("c1", 5.0)
    assert storage.peek_data("result") == b"done"
    assert storage.inflight_items("c1") == []
    assert in_thread(next, events).finish() == "finished"
    assert storage.enqueued_items() == [b"next", b"n2"]
    assert storage.scheduled_items() == [b"later"]
    assert storage.get_errors() == [b"err"]


def test_batch_writes_nothing_when_the_block_raises(storage: BaseStorage) -> None:
    with pytest.raises(KeyError):
        with storage.batch():
            storage.enqueue(b"lost")
            storage.put_data("k", b"lost")
            raise KeyError("the block failed")
    assert storage.queue_size() == 0
    assert storage.peek_data("k") is None


def test_reads_inside_a_batch_are_refused(storage: BaseStorage) -> None:
    with pytest.raises(RuntimeError, match="batch"):
        with storage.batch():
            storage.queue_size()


def test_nested_batches_join_the_outer_one(storage: BaseStorage) -> None:
    with storage.batch():
        storage.enqueue(b"a")
        with storage.batch():
            storage.enqueue(b"b")
    assert storage.enqueued_items() == [b"a", b"b"]


# -- housekeeping -----------------------------------------------------------------
def test_flush_all_empties_everything(storage: BaseStorage) -> None:
    storage.enqueue_many([b"q", b"f"])
    storage.fetch("c1", timeout=1)
    storage.add_to_schedule(b"s", at(1))
    storage.put_data("k", b"v")
    storage.put_error(b"e")
    storage.flush_all()
    assert storage.queue_size() == storage.inflight_size() == storage.schedule_size() == 0
    assert storage.result_store_size() == storage.error_count() == 0
    assert storage.requeue_expired(cutoff=float("inf")) == 0


def test_close_then_use_again(storage: BaseStorage) -> None:
    storage.enqueue(b"a")
    storage.close()
    assert storage.dequeue() == b"a"


def test_two_names_never_see_each_other(storage: BaseStorage, storage_url: str) -> None:
    other = storage_from_url(storage_url, name=f"other-{uuid.uuid4().hex[:8]}")
    try:
        other.enqueue(b"theirs")
        other.fetch("c1", timeout=1)
        other.heartbeat("c1", 1.0)
        other.add_to_schedule(b"theirs", at(1))
        other.put_data("k", b"theirs")
        other.put_error(b"theirs")
        storage.enqueue(b"mine")
        assert storage.enqueued_items() == [b"mine"]
        assert storage.inflight_items() == []
        assert storage.requeue_expired(cutoff=2.0) == 0
        assert storage.scheduled_items() == []
        assert storage.peek_data("k") is None
        assert storage.get_errors() == []
        storage.flush_all()
        assert other.peek_data("k") == b"theirs"
        assert other.inflight_items() == [b"theirs"]
    finally:
        other.flush_all()
        other.close()
