"""Payloads to bytes and back: pickle, with opt-in HMAC-SHA256 signing.

Unpickling runs code, so when the storage is reachable by anyone who should not run
code in the consumer, give a secret: unsigned or altered payloads are then refused
before they are unpickled. With a ``context`` (the Huey instance's name), signatures
are made with a key derived from the secret and the context, so a payload signed for
one instance is refused by another that shares the secret.
"""

from __future__ import annotations

import hmac
import pickle
import zlib

from huey.exceptions import ConfigurationError, MessageError, SignatureError

_DIGEST = "sha256"
DIGEST_SIZE = 32


class Serializer:
    """Pickles objects; with a ``secret``, each payload is a 32-byte HMAC followed by the pickle.

    ``compression`` (huey 3's option) zlib-compresses the pickles; a huey 3 subclass that
    overrides ``_serialize``/``_deserialize`` (say, to JSON) replaces pickle itself.
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        protocol: int = pickle.HIGHEST_PROTOCOL,
        context: str | None = None,
        compression: bool = False,
    ) -> None:
        if secret is not None and len(secret) == 0:
            raise ConfigurationError("Serializer secret is empty; pass None to turn signing off")
        if not 0 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ConfigurationError(
                f"pickle protocol {protocol} is not supported; use 0-{pickle.HIGHEST_PROTOCOL}"
            )
        key = secret.encode() if isinstance(secret, str) else secret
        if key is not None and context is not None:
            key = hmac.digest(key, b"huey-ng instance\0" + context.encode(), _DIGEST)
        self._key = key
        self.protocol = protocol
        self.compression = compression

    @property
    def signing(self) -> bool:
        """True when payloads are signed and verified."""
        return self._key is not None

    def sign(self, body: bytes) -> bytes:
        """The signature of ``body`` (empty when signing is off)."""
        return b"" if self._key is None else hmac.digest(self._key, body, _DIGEST)

    def verify(self, signature: bytes, body: bytes, data: bytes) -> None:
        """Raise SignatureError (carrying the whole record ``data``) unless ``signature``
        signs ``body``; a no-op when signing is off."""
        if self._key is None:
            return
        try:
            valid = hmac.compare_digest(signature, self.sign(body))
        except TypeError:  # not bytes: a TEXT row, say
            valid = False
        if not valid:
            raise SignatureError(
                "payload signature does not match: it is unsigned, truncated, altered, "
                "or signed with another secret or for another instance",
                data=data,
            )

    def dumps(self, obj: object) -> bytes:
        """Pickle ``obj``, prefixed with its signature when signing is on."""
        data = self.pickle(obj)
        return data if self._key is None else self.sign(data) + data

    def loads(self, data: bytes) -> object:
        """Unpickle a payload, verifying its signature first when signing is on.

        Raises SignatureError for an unsigned, truncated or tampered payload and
        MessageError when it is not bytes or does not unpickle; both carry the raw ``data``.
        """
        if self._key is None:
            return self.unpickle(data, data)
        if not isinstance(data, (bytes, bytearray)):  # a number, say: a SQLite row's own type
            raise MessageError(f"payload is a {type(data).__name__}, not bytes", data=data)
        # A payload shorter than a digest yields a short signature, which never compares equal.
        body = data[DIGEST_SIZE:]
        self.verify(data[:DIGEST_SIZE], body, data)
        return self.unpickle(body, data)

    def pickle(self, obj: object) -> bytes:
        """``obj`` pickled, unsigned: for callers that sign a larger record themselves."""
        body = self._serialize(obj)
        return zlib.compress(body) if self.compression else body

    def unpickle(self, body: bytes, data: bytes) -> object:
        """Unpickle ``body`` (already verified by the caller); MessageError carries ``data``."""
        try:
            return self._deserialize(zlib.decompress(body) if self.compression else body)
        except Exception as exc:  # unpickling can raise almost anything; keep the cause
            raise MessageError(
                f"payload could not be unpickled: {type(exc).__name__}: {exc}", data=data
            ) from exc

    def _serialize(self, obj: object) -> bytes:
        return pickle.dumps(obj, self.protocol)

    def _deserialize(self, body: bytes) -> object:
        return pickle.loads(body)
