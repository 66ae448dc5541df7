"""huey 3's Serializer options and SignedSerializer, used as huey 3 apps pass them: the
messages stay signed and verified before they are unpickled when a secret is given."""

from __future__ import annotations

import pytest

from huey import Huey
from huey.exceptions import ConfigurationError, SignatureError
from huey.message import encode
from huey.serializer import Serializer, SignedSerializer

ITEMS = [None, 0, 1, b"a" * 1024, ["k1", "k2"], {"k1": "v1", "k2": "v2"}]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"compression": True},
        {"compression": True, "use_zlib": True, "compression_level": 9},
        {"pickle_protocol": 2},
    ],
)
def test_serialize_and_deserialize_round_trip(options) -> None:
    serializer = Serializer(**options)
    for item in ITEMS:
        assert serializer.deserialize(serializer.serialize(item)) == item


def test_compression_shrinks_and_can_be_turned_on_with_data_stored() -> None:
    plain, compressing = Serializer(), Serializer(compression=True)
    assert len(compressing.serialize(b"a" * 1024)) < 100
    for item in ITEMS:  # payloads written before compression was on still read
        assert compressing.deserialize(plain.serialize(item)) == item


def test_signed_serializer_refuses_a_tampered_payload_with_value_error() -> None:
    serializer = SignedSerializer(secret="my-secret-key")
    data = serializer.serialize({"a": 1})
    assert serializer.deserialize(data) == {"a": 1}
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ValueError) as raised:
        serializer.deserialize(tampered)
    assert isinstance(raised.value, SignatureError)
    # Another salt (or secret) is another key.
    with pytest.raises(ValueError):
        SignedSerializer(secret="my-secret-key", salt="other").deserialize(data)
    with pytest.raises(ConfigurationError):
        SignedSerializer(secret="")


class Evil:
    ran = False

    def __reduce__(self):
        return (setattr, (Evil, "ran", True))


def test_a_huey3_app_passing_signed_serializer_never_unpickles_unsigned_messages(
    storage_url: str,
) -> None:
    huey = Huey("signed", url=storage_url, serializer=SignedSerializer(secret="k", use_zlib=True))

    @huey.task()
    def add(a, b):
        return a + b

    result = add(1, 2)
    assert huey.execute(huey.dequeue()) == 3 and result.get() == 3
    # A forged message: unsigned, its argument a pickle that runs code when loaded.
    huey.storage.enqueue(encode(add.s(Evil(), 1), Serializer()))
    with pytest.raises(SignatureError):
        huey.dequeue()
    assert not Evil.ran
