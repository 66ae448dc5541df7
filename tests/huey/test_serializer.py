"""Serializer: plain pickle by default; with a secret, nothing unsigned is ever unpickled."""

from __future__ import annotations

import hmac
import pickle
from datetime import datetime

import pytest

from huey.exceptions import ConfigurationError, MessageError, SignatureError
from huey.serializer import Serializer

MESSAGE = {"task": "app.tasks.add", "args": (1, 2), "kwargs": {"eta": datetime(2024, 5, 1)}}


class Unpicklable:
    """Counts unpickling, so a test can prove a payload was never unpickled."""

    loaded = 0

    def __reduce__(self):
        return (Unpicklable._load, ())

    @staticmethod
    def _load() -> Unpicklable:
        Unpicklable.loaded += 1
        return Unpicklable()


@pytest.fixture
def signed() -> Serializer:
    return Serializer(secret="s3cret")


def test_round_trip_without_secret_is_plain_pickle():
    serializer = Serializer()
    data = serializer.dumps(MESSAGE)
    assert serializer.loads(data) == MESSAGE
    assert pickle.loads(data) == MESSAGE  # no framing added
    assert not serializer.signing


@pytest.mark.parametrize("secret", ["s3cret", b"s3cret", b"\x00\xff" * 16])
def test_round_trip_with_secret(secret):
    serializer = Serializer(secret=secret)
    assert serializer.signing
    assert serializer.loads(serializer.dumps(MESSAGE)) == MESSAGE


def test_signed_payload_is_digest_then_pickle(signed):
    data = signed.dumps(MESSAGE)
    assert len(data) == 32 + len(pickle.dumps(MESSAGE, pickle.HIGHEST_PROTOCOL))
    assert pickle.loads(data[32:]) == MESSAGE


def test_str_and_bytes_secret_sign_alike():
    assert Serializer("key").dumps(MESSAGE) == Serializer(b"key").dumps(MESSAGE)


def test_protocol_is_used():
    assert Serializer(protocol=2).dumps(MESSAGE) == pickle.dumps(MESSAGE, 2)


@pytest.mark.parametrize("position", [0, 31, 32, -1])
def test_one_changed_byte_is_refused(signed, position):
    data = bytearray(signed.dumps(MESSAGE))
    data[position] ^= 0x01
    with pytest.raises(SignatureError) as raised:
        signed.loads(bytes(data))
    assert raised.value.data == bytes(data)


def test_unsigned_payload_is_refused_and_never_unpickled(signed):
    before = Unpicklable.loaded
    payload = Serializer().dumps(Unpicklable())
    with pytest.raises(SignatureError, match="signature does not match"):
        signed.loads(payload)
    assert Unpicklable.loaded == before


def test_wrong_secret_is_refused(signed):
    with pytest.raises(SignatureError):
        Serializer(secret="other").loads(signed.dumps(MESSAGE))


@pytest.mark.parametrize("length", [0, 1, 31, 32, 40])
def test_truncated_payload_is_refused(signed, length):
    data = signed.dumps(MESSAGE)[:length]
    with pytest.raises(SignatureError) as raised:
        signed.loads(data)
    assert raised.value.data == data


def test_signature_error_is_a_message_error(signed):
    with pytest.raises(MessageError):
        signed.loads(b"not signed")


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"\x80\x05\x95", b"\x00" * 64])
def test_garbage_raises_message_error_with_the_data(garbage):
    with pytest.raises(MessageError, match="could not be unpickled") as raised:
        Serializer().loads(garbage)
    assert type(raised.value) is MessageError
    assert raised.value.data == garbage


def test_missing_module_raises_message_error():
    data = b"cno_such_module\nThing\n."  # protocol 0: load global no_such_module.Thing
    with pytest.raises(MessageError, match="ModuleNotFoundError") as raised:
        Serializer().loads(data)
    assert raised.value.data == data
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_missing_class_raises_message_error():
    data = b"chuey.serializer\nNoSuchClass\n."
    with pytest.raises(MessageError, match="AttributeError") as raised:
        Serializer().loads(data)
    assert raised.value.data == data


def test_signed_payload_that_does_not_unpickle_raises_message_error(signed):
    broken = b"chuey.serializer\nNoSuchClass\n."
    # Signed the way dumps signs, so only the unpickling fails.
    data = hmac.digest(b"s3cret", broken, "sha256") + broken
    with pytest.raises(MessageError) as raised:
        signed.loads(data)
    assert type(raised.value) is MessageError
    assert raised.value.data == data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": ""}, "secret is empty"),
        ({"secret": b""}, "secret is empty"),
        ({"protocol": 99}, "protocol 99"),
    ],
)
def test_bad_configuration_is_refused_at_construction(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        Serializer(**kwargs)


def test_a_context_binds_signatures_to_it():
    alpha = Serializer("s3cret", context="alpha")
    data = alpha.dumps(MESSAGE)
    assert alpha.loads(data) == MESSAGE
    for other in (Serializer("s3cret", context="beta"), Serializer("s3cret")):
        with pytest.raises(SignatureError, match="another instance"):
            other.loads(data)


def test_sign_and_verify_for_records_signed_by_their_caller(signed):
    signature = signed.sign(b"body")
    signed.verify(signature, b"body", b"record")
    with pytest.raises(SignatureError) as raised:
        signed.verify(signature, b"other body", b"record")
    assert raised.value.data == b"record"
    assert Serializer().sign(b"body") == b""
    Serializer().verify(b"", b"anything", b"record")  # signing off: nothing to check


@pytest.mark.parametrize("serializer", [Serializer(), Serializer("s3cret")])
def test_a_payload_that_is_not_bytes_raises_message_error(serializer):
    with pytest.raises(MessageError):
        serializer.loads("text from a TEXT column")
