"""The message format: metadata readable without unpickling, one signature over it all."""

from __future__ import annotations

import datetime
import pickle
import struct
import time

import pytest

from huey import Huey
from huey.exceptions import MessageError, SignatureError
from huey.group import ChordConfig
from huey.message import FORMAT_VERSION, decode, priority_of, read_metadata


@pytest.fixture(params=[None, "s3cret"], ids=["unsigned", "signed"])
def huey(request: pytest.FixtureRequest) -> Huey:
    return Huey("msg", url="memory://", secret=request.param)


def test_a_pipeline_round_trips_with_every_field(huey):
    @huey.task(retries=3, retry_delay=1.5)
    def job(*args, **kwargs):
        return args

    eta = datetime.datetime(2031, 5, 6, 7, 8, 9, 123456)
    first = job.s(1, "ü", key=b"\x00").then(job, 2)
    first.execute_time = eta
    message = decode(huey.serialize_task(first), huey.serializer)
    assert (message.task_id, message.name, message.eta) == (first.task_id, job.name, eta)
    assert (message.retries, message.retry_delay) == (3, 1.5)
    assert message.data == ((1, "ü"), {"key": b"\x00"})
    child = message.on_complete
    assert (child.task_id, child.data, child.eta, child.on_complete) == (
        first.on_complete.task_id,
        ((2,), {}),
        None,
        None,
    )


def test_a_chord_members_chord_and_its_callback_pipeline_round_trip(huey):
    @huey.task()
    def job(*args):
        return args

    member = job.s(1)
    member.chord_config = ChordConfig("cid", 3, 2, job.s("cb").then(job, "next"))
    task = huey.deserialize_task(huey.serialize_task(member))
    config = task.chord_config
    assert (config.cid, config.size, config.idx, task.data) == ("cid", 3, 2, ((1,), {}))
    assert [step.data for step in config.callback.chain()] == [(("cb",), {}), (("next",), {})]


def test_a_retry_backoff_and_a_relative_expiry_round_trip_after_a_chord(huey):
    @huey.task(retry_backoff=2, expires=datetime.timedelta(minutes=1))
    def job(*args):
        return args

    member = job.s(1)
    member.chord_config = ChordConfig("cid", 1, 0, job.s("cb"))
    member.resolve_expires(datetime.datetime(2031, 1, 1))
    task = huey.deserialize_task(huey.serialize_task(member))
    assert (task.retry_backoff, task.expires, task.chord_config.cid) == (2, 60, "cid")
    assert task.expires_resolved < datetime.datetime(2031, 1, 1)  # fixed again, from now
    plain = huey.deserialize_task(huey.serialize_task(job.s()))
    assert (plain.retry_backoff, plain.expires, plain.chord_config) == (2, 60, None)


def test_metadata_is_plain_json_in_the_message(huey):
    @huey.task()
    def job(x):
        return x

    task = job.s(1)
    data = huey.serialize_task(task)
    assert data[0] == FORMAT_VERSION
    assert f'"{task.task_id}"'.encode() in data
    assert read_metadata(data, huey.serializer).data is None


def test_metadata_says_when_the_message_was_written(huey):
    @huey.task()
    def job():
        return 1

    before = time.time()
    data = huey.serialize_task(job.s().then(job))
    message = read_metadata(data, huey.serializer)
    assert before <= message.enqueued <= time.time()
    assert message.on_complete.enqueued == message.enqueued


def test_a_task_name_that_needs_escaping_survives(huey):
    @huey.task(name='we"ird\\name\n')
    def job():
        return 1

    assert decode(huey.serialize_task(job.s()), huey.serializer).name == 'we"ird\\name\n'


def test_a_non_number_retry_delay_is_refused_at_enqueue(huey):
    @huey.task(retry_delay=datetime.timedelta(seconds=1))
    def job():
        return 1

    with pytest.raises(TypeError):
        huey.serialize_task(job.s())


@pytest.mark.parametrize("payload", ["text, not bytes", b"\x02", None])
def test_a_payload_that_is_not_a_message_raises_message_error(huey, payload):
    with pytest.raises(MessageError):
        huey.deserialize_task(payload)


def test_priority_of_reads_the_first_step_and_gives_0_for_anything_else(huey):
    @huey.task(priority=7)
    def job():
        return None

    assert priority_of(huey.serialize_task(job.s().then(job.s()))) == 7
    plain = job.s()
    plain.priority = None
    assert priority_of(huey.serialize_task(plain)) == 0
    junk = (b"", b"junk", b"\x03\x00\x00\x00\x00\x09[[1]]x")
    assert [priority_of(data) for data in junk] == [0, 0, 0]


def test_a_version_1_message_is_refused():
    old = pickle.dumps((1, ("id", "name", ((), {}), None, 0, 0, None)))
    with pytest.raises(MessageError, match="format version") as raised:
        decode(old, Huey("msg", url="memory://").serializer)
    assert raised.value.data == old


@pytest.mark.parametrize("position", [1, 4, 40, 80, -1])
def test_the_signature_covers_header_metadata_and_data(position):
    huey = Huey("msg", url="memory://", secret="s3cret")

    @huey.task()
    def job(x):
        return x

    data = bytearray(huey.serialize_task(job.s(1)))
    data[position] ^= 0x01
    with pytest.raises(SignatureError):
        read_metadata(bytes(data), huey.serializer)


@pytest.mark.parametrize(
    "metadata",
    [
        b"",
        b"{}",
        b"[]",
        b"[1]",
        b'[["id", "n", "not a time", 0, 0, 1.5]]',
        b'[["id", "n", null, "0", 0, 1.5]]',
        b'[["id", "n", null, 0, 0, "yesterday"]]',
        b'[["id", "n", null, 0, 0]]',
        b'[["id", "n", null, 0, 0, 1.5, null, null, null, null, ["c", "2", 0, []]]]',
        b'[["id", "n", null, 0, 0, 1.5, null, null, null, null, null, "2"]]',
        b'[["id", "n", null, 0, 0, 1.5, null, null, null, null, null, null, "60"]]',
    ],
)
def test_malformed_metadata_raises_message_error(metadata):
    data = struct.pack(">BBI", FORMAT_VERSION, 0, len(metadata)) + metadata + pickle.dumps([])
    with pytest.raises(MessageError):
        read_metadata(data, Huey("msg", url="memory://").serializer)
