"""Payloads to bytes and back: pickle, with opt-in HMAC-SHA256 signing.

Unpickling runs code, so when the storage is reachable by anyone who should not run
code in the consumer, give a secret: unsigned or altered payloads are then refused
before they are unpickled. With a ``context`` (the Huey instance's name), signatures
are made with a key derived from the secret and the context, so a payload signed for
one instance is refused by another that shares the secret.
"""

from __future__ import annotations

import hmac
import logging
import pickle
import zlib
from typing import Any

from huey.exceptions import ConfigurationError, MessageError, SignatureError

logger = logging.getLogger("huey.serializer")

_DIGEST = "sha256"
DIGEST_SIZE = 32


class Serializer:
    """Pickles objects; with a ``secret``, each payload is a 32-byte HMAC followed by the pickle.

    huey 3's options: ``compression`` zlib-compresses the pickles at ``compression_level``
    (a compressing serializer still reads uncompressed payloads, so compression can be
    turned on with tasks queued), ``use_zlib`` is accepted (compression is always zlib),
    ``pickle_protocol`` is ``protocol``. A huey 3 subclass that overrides
    ``_serialize``/``_deserialize`` (say, to JSON) replaces pickle itself.
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        protocol: int = pickle.HIGHEST_PROTOCOL,
        context: str | None = None,
        compression: bool = False,
        *,
        compression_level: int = 6,
        use_zlib: bool = False,
        pickle_protocol: int | None = None,
    ) -> None:
        if secret is not None and len(secret) == 0:
            raise ConfigurationError("Serializer secret is empty; pass None to turn signing off")
        protocol = pickle_protocol or protocol
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
        self.compression_level = compression_level

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

    def serialize(self, obj: object) -> bytes:
        """huey 3's name for :meth:`dumps`."""
        return self.dumps(obj)

    def deserialize(self, data: bytes) -> object:
        """huey 3's name for :meth:`loads` (a tampered payload raises SignatureError,
        a ValueError, before anything is unpickled)."""
        return self.loads(data)

    def pickle(self, obj: object) -> bytes:
        """``obj`` pickled, unsigned: for callers that sign a larger record themselves."""
        body = self._serialize(obj)
        return zlib.compress(body, self.compression_level) if self.compression else body

    def unpickle(self, body: bytes, data: bytes) -> object:
        """Unpickle ``body`` (already verified by the caller); MessageError carries ``data``."""
        try:
            return self._deserialize(_inflate(body) if self.compression else body)
        except Exception as exc:  # unpickling can raise almost anything; keep the cause
            raise MessageError(
                f"payload could not be unpickled: {type(exc).__name__}: {exc}", data=data
            ) from exc

    def _serialize(self, obj: object) -> bytes:
        return pickle.dumps(obj, self.protocol)

    def _deserialize(self, body: bytes) -> object:
        return pickle.loads(body)


def _inflate(body: bytes) -> bytes:
    """``body`` decompressed, or as it is when it is not zlib data (written before
    compression was turned on): a zlib stream starts with a header whose two bytes are a
    multiple of 31 (RFC 1950), which a pickle's first bytes (0x80 and a protocol) are not."""
    if len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
        try:
            return zlib.decompress(body)
        except zlib.error:
            pass
    logger.warning("compression is on but a payload is not compressed; reading it as it is")
    return body


class SignedSerializer(Serializer):
    """huey 3's signing serializer: ``SignedSerializer(secret, salt='huey', **options)``.

    Payloads are signed with a key made from ``secret`` and ``salt`` (HMAC-SHA256, as every
    signed payload here) and verified before they are unpickled; the app and its
    consumers need the same secret and salt.
    """

    def __init__(
        self, secret: str | bytes | None = None, salt: str | bytes = "huey", **options: Any
    ) -> None:
        if not secret or not salt:
            raise ConfigurationError("SignedSerializer needs a secret and a salt")
        as_bytes = [v.encode() if isinstance(v, str) else v for v in (salt, secret)]
        super().__init__(hmac.digest(as_bytes[0], as_bytes[1], _DIGEST), **options)
