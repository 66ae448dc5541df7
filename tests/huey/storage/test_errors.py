"""Storage faults raise the library's StorageError carrying the backend's message, on a real
redis-server and a real SQLite file; the storage works again once the fault ends. A queue
entry that is not a message's bytes is taken off the queue as CorruptEntry."""

from __future__ import annotations

import datetime
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from huey import Huey, crontab
from huey.consumer.scheduler import Scheduler
from huey.exceptions import CorruptEntry, QueueException, StorageError, StorageUnavailable
from huey.message import _HEADER
from huey.storage import RedisStorage, SqliteStorage
from huey.storage.base import to_score
from tests.waiting import wait_until


@pytest.fixture
def name() -> str:
    return f"errors-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(private_redis, name) -> Iterator[RedisStorage]:
    storage = RedisStorage(name, url=private_redis.url)
    yield storage
    storage.close()


@pytest.fixture
def admin(private_redis) -> Iterator[redis.Redis]:
    """A plain client on the private server, to inject and clear faults."""
    client = redis.Redis.from_url(private_redis.url)
    yield client
    client.close()


@pytest.fixture
def lite(tmp_path: Path, name) -> Iterator[SqliteStorage]:
    storage = SqliteStorage(name, filename=str(tmp_path / "huey.db"), timeout=0.2)
    storage.enqueue(b"first")  # creates the file and its tables
    yield storage
    storage.close()


def test_the_storage_errors_are_queue_exceptions() -> None:
    assert issubclass(StorageError, QueueException)
    assert issubclass(StorageUnavailable, StorageError)
    assert issubclass(CorruptEntry, StorageError)


# -- Redis ---------------------------------------------------------------------------------
def test_redis_out_of_memory(store: RedisStorage, admin: redis.Redis) -> None:
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)
    with pytest.raises(StorageError) as raised:
        store.enqueue(b"job")
    assert raised.value.backend_message.startswith("OOM")
    admin.config_set("maxmemory", 0)
    store.enqueue(b"job")
    assert store.fetch("c1", timeout=1) == b"job"


def test_redis_read_only_replica(store: RedisStorage, admin: redis.Redis) -> None:
    store.put_data("k", b"v")
    admin.replicaof("127.0.0.1", 1)  # a master that never answers: the data stays
    with pytest.raises(StorageError, match="READONLY"):
        store.fetch("c1", timeout=0.1)
    with pytest.raises(StorageError, match="READONLY"):
        store.pop_data("k")  # a script
    assert store.peek_data("k") == b"v"  # reads still work
    admin.replicaof("NO", "ONE")
    assert store.pop_data("k") == b"v"


def test_redis_failed_snapshot_refuses_writes(
    store: RedisStorage, admin: redis.Redis, private_redis
) -> None:
    admin.config_set("save", "3600 1")  # writes stop on a failed snapshot only with saving on
    shutil.rmtree(private_redis.workdir)  # where the server writes its snapshot
    admin.bgsave()
    assert wait_until(lambda: admin.info("persistence")["rdb_last_bgsave_status"] == "err", 10)
    with pytest.raises(StorageError, match="MISCONF"):
        store.heartbeat("c1", 1.0)
    admin.config_set("stop-writes-on-bgsave-error", "no")
    store.heartbeat("c1", 1.0)
    admin.config_set("save", "")  # or the server would refuse to stop without its snapshot


def test_redis_wrong_type_under_results(store: RedisStorage, admin: redis.Redis, name) -> None:
    admin.set(f"huey:{{{name}}}:results", b"not a hash")
    with pytest.raises(StorageError, match="WRONGTYPE"):
        store.peek_data("k")
    # pop_data once returned this error as the stored value (from inside MULTI/EXEC).
    with pytest.raises(StorageError, match="WRONGTYPE"):
        store.pop_data("k")


@pytest.mark.parametrize("kind", ["string", "hash"])
def test_redis_foreign_value_under_the_queue_key_is_taken_off(
    store: RedisStorage, admin: redis.Redis, name, kind
) -> None:
    queue = f"huey:{{{name}}}:queue"
    if kind == "string":
        admin.set(queue, b"foreign")
    else:
        admin.hset(queue, "field", b"foreign")
    with pytest.raises(CorruptEntry, match=kind) as raised:
        store.fetch("c1", timeout=0.1)
    if kind == "string":
        assert raised.value.data == b"foreign"
    else:  # any other type arrives as its DUMP, which restores it
        admin.restore("restored", 0, raised.value.data)
        assert admin.hgetall("restored") == {b"field": b"foreign"}
    assert admin.exists(queue) == 0
    store.enqueue(b"job")  # the queue works again
    assert store.fetch("c1", timeout=1) == b"job"


def test_redis_socket_timeout_shorter_than_a_blocking_fetch(private_redis, name) -> None:
    store = RedisStorage(name, url=private_redis.url, socket_timeout=0.3)
    try:
        assert store.fetch("c1", timeout=1.5) is None  # an idle wait, not a lost server
        assert store.wait_for_data("k", timeout=1.5) is False
        store.enqueue(b"job")
        assert store.fetch("c1", timeout=1) == b"job"
    finally:
        store.close()


# -- SQLite --------------------------------------------------------------------------------
def test_sqlite_lock_held_past_the_busy_timeout(lite: SqliteStorage) -> None:
    holder = sqlite3.connect(lite.filename, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageError, match="locked"):
        lite.enqueue(b"second")
    with pytest.raises(StorageError, match="locked"):
        lite.fetch("c1", timeout=0.1)
    holder.execute("ROLLBACK")
    holder.close()
    lite.enqueue(b"second")
    assert lite.fetch_many("c1", 2, timeout=1) == [b"first", b"second"]


def test_sqlite_read_only_database(lite: SqliteStorage) -> None:
    # Tests run as root, which writes through chmod; query_only refuses writes the same way.
    lite._connection().execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError, match="readonly"):
        lite.enqueue(b"second")
    with pytest.raises(StorageError, match="readonly"):
        lite.fetch("c1", timeout=0.1)
    assert lite.queue_size() == 1
    lite._connection().execute("PRAGMA query_only = OFF")
    assert lite.fetch("c1", timeout=0.1) == b"first"


def test_sqlite_disk_full_leaves_the_connection_usable(lite: SqliteStorage) -> None:
    conn = lite._connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk
    with pytest.raises(StorageError, match="full"):
        lite.enqueue_many([b"x" * 100_000])
    conn.execute("PRAGMA max_page_count = 1000000")
    lite.enqueue_many([b"second"])
    assert lite.fetch_many("c1", 2, timeout=1) == [b"first", b"second"]


def test_sqlite_file_that_is_not_a_database(tmp_path: Path, name) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite file at all" * 100)
    storage = SqliteStorage(name, filename=str(path), timeout=0.2)
    with pytest.raises(StorageError, match="not a database"):
        storage.queue_size()


def test_sqlite_text_row_in_the_queue_is_taken_off(lite: SqliteStorage) -> None:
    with sqlite3.connect(lite.filename) as conn:
        conn.execute("DELETE FROM huey_queue")
        conn.execute(
            "INSERT INTO huey_queue (name, data) VALUES (?, 'text, not bytes')", (lite.name,)
        )
    lite.enqueue(b"job")
    with pytest.raises(CorruptEntry, match="str") as raised:
        lite.fetch_many("c1", 8, timeout=0.1)
    assert raised.value.data == b"text, not bytes"
    assert lite.fetch_many("c1", 8, timeout=0.1) == [b"job"]
    assert lite.inflight_items("c1") == [b"job"]


@pytest.mark.parametrize("score", ["'soon'", "x'00'"], ids=["text", "blob"])
def test_sqlite_schedule_row_whose_score_is_not_a_number_is_moved_on(
    lite: SqliteStorage, score: str
) -> None:
    """Such a row (written by hand) is due at once: the queue takes it off as it would any
    foreign entry, and the scheduler, which stopped at it, goes on to the periodic tasks."""
    with sqlite3.connect(lite.filename) as conn:
        conn.execute(
            f"INSERT INTO huey_schedule (name, data, score) VALUES (?, x'01', {score})",
            (lite.name,),
        )
    later = datetime.datetime(2030, 1, 1)
    lite.add_to_schedule(b"later", later)
    now = later - datetime.timedelta(days=1)
    assert lite.enqueue_due(now) == 0  # a real ETA comes first; that row waits behind it
    assert lite.next_scheduled_score() == to_score(later)
    assert lite.enqueue_due(later) == 1
    assert lite.next_scheduled_score() == 0.0  # due at once
    assert lite.enqueue_due(now) == 1
    assert lite.next_scheduled_score() is None
    assert lite.enqueued_items()[-1] == b"\x01"

    huey = Huey(lite.name, url=f"sqlite:///{lite.filename}")

    @huey.periodic_task(crontab())
    def tick() -> None: ...

    with sqlite3.connect(lite.filename) as conn:
        conn.execute(
            f"INSERT INTO huey_schedule (name, data, score) VALUES (?, x'02', {score})",
            (lite.name,),
        )
    Scheduler(huey, "c1", threading.Event(), periodic=True).step(later)
    assert [message.name for message in huey.pending_messages()][-1] == tick.name
    assert huey.storage.schedule_size() == 0


def test_sqlite_heartbeat_row_that_is_not_a_number_counts_as_stopped(lite: SqliteStorage) -> None:
    """Readers (hueyctl's liveness check compares beats) see only numeric beats, and the
    consumer of such a row is requeued like one whose heartbeats stopped."""
    lite.heartbeat("alive", 200.0)
    assert lite.fetch("ghost", timeout=1) == b"first"
    with sqlite3.connect(lite.filename) as conn:
        conn.execute(
            "UPDATE huey_consumers SET heartbeat = 'soon' WHERE name = ? AND consumer = 'ghost'",
            (lite.name,),
        )
        conn.execute(
            "INSERT INTO huey_consumers (name, consumer, heartbeat) VALUES (?, x'01', 300.0)",
            (lite.name,),
        )
    assert lite.heartbeats() == {"alive": 200.0}
    assert lite.requeue_expired(100.0) == 1
    assert lite.enqueued_items() == [b"first"]


def test_sqlite_scheduled_message_with_a_priority_past_64_bits_still_moves(
    lite: SqliteStorage,
) -> None:
    huey = Huey(lite.name, url=f"sqlite:///{lite.filename}")

    @huey.task(priority=5)
    def job() -> None: ...

    job.schedule(delay=60)
    (raw,) = huey.storage.scheduled_items()
    huey.storage.flush_schedule()
    version, signed, size = _HEADER.unpack_from(raw)
    metadata = raw[_HEADER.size : _HEADER.size + size].replace(b",5,", b"," + b"9" * 30 + b",")
    forged = _HEADER.pack(version, signed, len(metadata)) + metadata + raw[_HEADER.size + size :]
    lite.add_to_schedule(forged, datetime.datetime(2000, 1, 1))
    assert lite.enqueue_due(datetime.datetime(2030, 1, 1)) == 1
