"""Task payloads to bytes and back: pickle, with opt-in HMAC-SHA256 signing.

Unpickling runs code, so when the storage is reachable by anyone who should not run
code in the consumer, give a secret: unsigned or altered payloads are then refused
before they are unpickled.
"""

from __future__ import annotations

import hmac
import pickle

from huey.exceptions import ConfigurationError, MessageError, SignatureError

_DIGEST = "sha256"
_DIGEST_SIZE = 32


class Serializer:
    """Pickles objects; with a ``secret``, each payload is a 32-byte HMAC followed by the pickle."""

    def __init__(
        self, secret: str | bytes | None = None, protocol: int = pickle.HIGHEST_PROTOCOL
    ) -> None:
        if secret is not None and len(secret) == 0:
            raise ConfigurationError("Serializer secret is empty; pass None to turn signing off")
        if not 0 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ConfigurationError(
                f"pickle protocol {protocol} is not supported; use 0-{pickle.HIGHEST_PROTOCOL}"
            )
        self._key = secret.encode() if isinstance(secret, str) else secret
        self.protocol = protocol

    @property
    def signing(self) -> bool:
        """True when payloads are signed and verified."""
        return self._key is not None

    def dumps(self, obj: object) -> bytes:
        """Pickle ``obj``, prefixed with its signature when signing is on."""
        data = pickle.dumps(obj, self.protocol)
        if self._key is None:
            return data
        return hmac.digest(self._key, data, _DIGEST) + data

    def loads(self, data: bytes) -> object:
        """Unpickle a payload, verifying its signature first when signing is on.

        Raises SignatureError for an unsigned, truncated or tampered payload and
        MessageError when the bytes do not unpickle; both carry the raw ``data``.
        """
        body = data if self._key is None else self._verified_body(data)
        try:
            return pickle.loads(body)
        except Exception as exc:  # unpickling can raise almost anything; keep the cause
            raise MessageError(
                f"payload could not be unpickled: {type(exc).__name__}: {exc}", data=data
            ) from exc

    def _verified_body(self, data: bytes) -> bytes:
        # A payload shorter than a digest yields a short signature, which never compares equal.
        signature, body = data[:_DIGEST_SIZE], data[_DIGEST_SIZE:]
        if not hmac.compare_digest(signature, hmac.digest(self._key, body, _DIGEST)):
            raise SignatureError(
                "payload signature does not match: it is unsigned, truncated, altered, "
                "or signed with another secret",
                data=data,
            )
        return body
