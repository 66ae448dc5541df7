"""Hostile storage: whoever can write to Redis or the SQLite file writes a malicious pickle
straight into each record the library reads back. Nothing may run it, and no reader or
worker may stop because of it."""

from __future__ import annotations

import datetime
import json
import pickle
import uuid
from pathlib import Path

import pytest

from huey import Huey, revocation
from huey.consumer.scheduler import CLAIM_LIFETIME, Scheduler, claim_key
from huey.consumer.worker import Worker
from huey.exceptions import SignatureError, TaskLockedException
from huey.execution import Outcome
from huey.message import Message
from huey.storage import FileStorage
from huey.task import utcnow

from ..waiting import wait_until


class Exploit:
    """Unpickling this creates ``path``: the marker that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture(params=["sqlite", "file", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A real SQLite file or directory, or the suite's real redis-server (never memory:
    the point is what a writer to the shared storage can do)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'huey.db'}"
    if request.param == "file":
        return f"file://{tmp_path / 'files'}"
    server = request.getfixturevalue("redis_server")
    server.start()
    server.flushdb()
    return server.url


@pytest.fixture(params=[None, "s3cret"], ids=["unsigned", "signed"])
def secret(request: pytest.FixtureRequest) -> str | None:
    return request.param


@pytest.fixture
def make(url: str):
    """``make(name=..., secret=...)``: a Huey on the storage under test, flushed afterwards."""
    made: list[Huey] = []

    def build(name: str | None = None, secret: str | None = None) -> Huey:
        huey = Huey(name or f"sec-{uuid.uuid4().hex[:8]}", url=url, secret=secret)
        made.append(huey)
        return huey

    yield build
    for huey in made:
        huey.flush()
        huey.storage.close()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "code-ran"


@pytest.fixture
def exploit(marker: Path) -> bytes:
    return pickle.dumps(Exploit(marker))


def garbage(exploit: bytes) -> list[bytes]:
    """Values that are no revocation record: code, a pickle of the wrong shape (which
    made workers die with TypeError), bytes that are not text, JSON of the wrong shape."""
    return [
        exploit,
        pickle.dumps(42),
        b"\xff\xfe\x00",
        b'"just text"',
        b'{"until": 5, "once": false}',
        b'{"until": null, "once": "yes"}',
        b"[" * 100_000,
    ]


class Stop:
    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float | None = None) -> bool:
        return False


# -- revocations --------------------------------------------------------------------------
def test_a_revocation_record_is_never_unpickled_by_is_revoked(make, secret, exploit, marker):
    huey = make(secret=secret)

    @huey.task()
    def job():
        return 1

    for value in garbage(exploit):
        huey.storage.put_data(revocation.instance_key("some-id"), value)
        huey.storage.put_data(revocation.class_key(job), value)
        assert not huey.is_revoked("some-id")
        assert not job.is_revoked()
        assert not marker.exists()
        # Treated as absent, removed so it is reported once, and kept in the error store.
        assert huey.storage.peek_data(revocation.class_key(job)) is None
    keys = {entry.get("key") for entry in huey.errors()}
    assert {revocation.instance_key("some-id"), revocation.class_key(job)} <= keys


def test_a_worker_runs_a_task_whose_revocation_records_are_garbage(make, secret, exploit, marker):
    huey = make(secret=secret)

    @huey.task()
    def job(n):
        return n

    worker = Worker(huey, "w1", Stop(), fetch_timeout=0.1)
    for n, value in enumerate(garbage(exploit)):
        result = job(n)
        huey.storage.put_data(revocation.class_key(job), value)
        huey.storage.put_data(revocation.instance_key(result.task_id), value)
        execution = worker.step()
        assert execution is not None and execution.outcome is Outcome.FINISHED
        assert result.get() == n
    assert not marker.exists()
    assert huey.storage.inflight_size() == 0


def test_a_consumer_keeps_running_tasks_past_a_garbage_revocation(make, exploit, marker):
    from huey.consumer import Consumer

    huey = make()

    @huey.task()
    def job(n):
        return n

    huey.storage.put_data(revocation.class_key(job), pickle.dumps(42))
    consumer = Consumer(huey, workers=2, heartbeat_timeout=3)
    consumer.start()
    try:
        assert job(1).get(blocking=True, timeout=10) == 1
        huey.storage.put_data(revocation.class_key(job), exploit)
        assert [job(n).get(blocking=True, timeout=10) for n in range(2, 6)] == [2, 3, 4, 5]
    finally:
        consumer.stop(graceful=False)
    assert not marker.exists()


def test_revocations_round_trip_as_json(make):
    huey = make()

    @huey.task()
    def job():
        return 1

    until = datetime.datetime.now() + datetime.timedelta(hours=1)
    huey.revoke_by_id("t1", revoke_until=until)
    huey.revoke_all(job, revoke_once=True)
    raw = json.loads(huey.storage.peek_data(revocation.instance_key("t1")))
    utc = until.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    assert raw == {"until": utc.isoformat(), "once": False}
    assert huey.is_revoked("t1") and job.is_revoked()


def test_an_aware_until_written_by_hand_is_read_as_utc(make):
    huey = make()
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    record = json.dumps({"until": later.isoformat(), "once": False}).encode()
    huey.storage.put_data(revocation.instance_key("t2"), record)
    assert huey.is_revoked("t2")
    assert not huey.is_revoked("t2", dt=later + datetime.timedelta(minutes=1))


# -- results ------------------------------------------------------------------------------
def test_a_forged_result_is_never_unpickled(make, exploit, marker):
    huey = make(secret="s3cret")
    huey.storage.put_data("forged-id", exploit)
    assert huey.result("forged-id", preserve=True) is None
    assert huey.result("forged-id") is None
    assert not marker.exists()
    assert huey.storage.peek_data("forged-id") is None  # removed: reported once
    assert [e["key"] for e in huey.errors()] == ["forged-id"]


def test_a_forged_value_in_the_key_value_store_reads_as_absent(make, exploit, marker):
    """huey 3's ``get`` reads the result store as results are read: verified, or absent."""
    huey = make(secret="s3cret")
    huey.storage.put_data("k", exploit)
    assert huey.get("k", peek=True) is None
    assert not marker.exists()
    assert huey.errors()[0]["key"] == "k"
    huey.put("k", {"a": 1})
    assert huey.get("k") == {"a": 1}


def test_a_result_signed_for_another_instance_is_refused(make, exploit, marker):
    a = make(name="alpha", secret="shared")
    b = make(name="beta", secret="shared")
    b.store_result("t1", Exploit(marker))
    a.storage.put_data("t1", b.storage.peek_data("t1"))
    assert a.result("t1") is None
    assert not marker.exists()
    a.store_result("t2", 42)
    assert a.result("t2") == 42


@pytest.mark.parametrize("value", ["text, not bytes", 42, 4.5], ids=["text", "int", "real"])
def test_records_stored_as_text_or_numbers_are_absent(make, secret, value):
    """A SQLite row of another type (TEXT, INTEGER, REAL) where bytes belong. A file holds
    bytes only: FileStorage refuses such a value and keeps nothing."""
    huey = make(secret=secret)
    if isinstance(huey.storage, FileStorage):
        with pytest.raises(TypeError):
            huey.storage.put_data("t1", value)
        assert not huey.storage.has_data_for_key("t1")
        return
    huey.storage.put_data(revocation.instance_key("t1"), value)
    huey.storage.put_data("t1", value)
    assert not huey.is_revoked("t1")
    assert huey.result("t1") is None
    assert len(huey.errors()) == 2


def test_an_undecodable_result_without_a_secret_is_absent_not_an_error(make):
    huey = make()
    huey.storage.put_data("t1", b"not a pickle")
    assert huey.result("t1") is None
    assert huey.errors()[0]["key"] == "t1"


# -- error entries and events ---------------------------------------------------------------
def test_error_entries_that_are_not_json_objects_are_skipped(make, exploit, marker):
    huey = make()
    huey.record_error({"task": "real"})
    for value in (exploit, b"\xff", b"[1, 2]", b"null"):
        huey.storage.put_error(value)
    huey.record_error({"task": "later"})
    assert [e["task"] for e in huey.errors()] == ["later", "real"]
    assert not marker.exists()


def test_events_that_are_not_json_objects_are_skipped(make, in_thread):
    huey = make()
    stream = huey.events_stream()
    reader = in_thread(next, stream)
    for junk in ("not json", "[1]", '"text"'):
        huey.storage.emit(junk)
    huey.emit("custom")
    assert reader.finish()["status"] == "custom"


# -- locks and periodic claims: plain bytes, only their presence is read --------------------
def test_a_forged_lock_value_is_only_a_held_lock(make, exploit, marker):
    huey = make()
    lock = huey.lock_task("nightly")
    huey.storage.put_data("huey.lock.nightly", exploit)
    with pytest.raises(TaskLockedException):
        with lock:
            pass
    assert huey.flush_locks() == {"nightly"}
    with lock:
        pass
    assert not marker.exists()


def test_a_forged_periodic_claim_is_only_a_claimed_minute(make, exploit, marker):
    from huey import crontab

    huey = make()

    @huey.periodic_task(crontab())
    def tick():
        return 1

    minute = utcnow().replace(second=0, microsecond=0)
    huey.storage.put_data(claim_key(minute), exploit)
    scheduler = Scheduler(huey, "c1", Stop())
    assert scheduler.enqueue_periodic(minute) == []
    later = minute + CLAIM_LIFETIME
    scheduler.clock = lambda: later
    assert scheduler.enqueue_periodic(later) == [tick.name]  # and the old claim is cleared
    assert huey.storage.peek_data(claim_key(minute)) is None
    assert not marker.exists()


def test_a_foreign_heartbeat_member_does_not_break_in_flight_counts(redis_server):
    huey = Huey(f"sec-{uuid.uuid4().hex[:8]}", url=redis_server.url)
    huey.storage.heartbeat("w1", 1.0)
    huey.storage._redis().zadd(huey.storage._consumers, {b"\xff\xfe": 2.0})
    assert huey.storage.inflight_size() == 0
    assert huey.storage.inflight_items() == []
    huey.flush()


# -- messages -------------------------------------------------------------------------------
def test_a_forged_message_is_recorded_and_the_worker_moves_on(make, exploit, marker):
    huey = make(secret="s3cret")

    @huey.task()
    def job(n):
        return n

    forged = make(name=huey.name)  # same storage and name, no secret
    forged.register(job.task_class)
    forged.enqueue(job.s(Exploit(marker)))
    huey.storage.enqueue(exploit)  # not even a message
    after = job(7)
    worker = Worker(huey, "w1", Stop(), fetch_timeout=0.1)
    for _ in range(3):
        worker.step()
    assert after.get() == 7
    assert not marker.exists()
    assert sum("SignatureError" in e["error"] for e in huey.errors()) == 1
    assert len(huey.errors()) == 2


def test_a_message_signed_for_another_instance_is_refused(make, marker):
    a = make(name="alpha", secret="shared")
    b = make(name="beta", secret="shared")

    @a.task(name="job")
    def job_a(x):
        return x

    @b.task(name="job")
    def job_b(x):
        return x

    data = b.serialize_task(job_b.s(Exploit(marker)))
    with pytest.raises(SignatureError):
        a.deserialize_task(data)
    assert a.pending_messages(data=True) == []
    a.storage.enqueue(data)
    assert a.pending_messages() == [] and a.pending_messages(data=True) == []
    assert not marker.exists()
    assert b.deserialize_task(b.serialize_task(job_b.s(1))).data == ((1,), {})


def test_message_metadata_is_read_without_unpickling(make, secret, marker):
    huey = make(secret=secret)

    @huey.task(retries=2)
    def job(x):
        return x

    eta = datetime.datetime(2030, 1, 2, 3, 4, 5)
    first = job.s(Exploit(marker)).then(job, Exploit(marker))
    huey.enqueue(first)
    later = job.schedule(args=(Exploit(marker),), eta=eta, convert_utc=False)
    [queued] = huey.pending_messages()
    [scheduled] = huey.scheduled_messages()
    assert not marker.exists()
    assert (queued.task_id, queued.name, queued.retries, queued.data) == (
        first.task_id,
        job.name,
        2,
        None,
    )
    assert isinstance(queued.on_complete, Message) and queued.on_complete.data is None
    assert (scheduled.task_id, scheduled.eta) == (later.task_id, eta)
    [decoded] = huey.pending_messages(data=True)
    assert marker.exists()  # decoding the arguments is asked for, and verified first
    assert decoded.data[0][0] is None  # Path.touch returned None


def test_pending_keeps_returning_tasks(make):
    huey = make(secret="s3cret")

    @huey.task()
    def job(x):
        return x

    job(1)
    huey.storage.enqueue(b"\x02\x01junk")
    assert [t.data for t in huey.pending()] == [((1,), {})]


def test_consumer_threads_never_see_the_exploit(make, exploit, marker):
    """All records at once, with a consumer running: nothing runs the pickle."""
    from huey.consumer import Consumer

    huey = make(secret="s3cret")

    @huey.task()
    def job(n):
        return n

    for key in (revocation.class_key(job), "huey.lock.x", claim_key(utcnow())):
        huey.storage.put_data(key, exploit)
    huey.storage.enqueue(exploit)
    huey.storage.put_error(exploit)
    consumer = Consumer(huey, workers=2, heartbeat_timeout=3)
    consumer.start()
    try:
        results = [job(n) for n in range(5)]
        assert [r.get(blocking=True, timeout=10) for r in results] == list(range(5))
        assert wait_until(lambda: huey.storage.queue_size() == 0)
    finally:
        consumer.stop(graceful=False)
    assert not marker.exists()
    assert any("format version" in e.get("error", "") for e in huey.errors())
