"""ExpiringRedisStorage: RedisStorage whose key/value entries expire (huey 3's RedisExpireHuey).

Redis before 7.4 has no per-field expiry in a hash, so each entry (result, revocation,
lock) lives under its own key ``huey:{name}:kv:<key>`` with a TTL of ``expire_time``
seconds, and so does each counter (``huey:{name}:counter:<key>``). The queue, schedule,
errors and events are RedisStorage's, unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from huey.exceptions import ConfigurationError
from huey.storage.base import as_key
from huey.storage.redis import _RECEIPT_TTL, RedisStorage, _mapped, match_prefix
from huey.storage.redis_priority import PriorityRedisStorage

#: huey 3's default: a day.
DEFAULT_EXPIRE_TIME = 86400.0


class ExpiringRedisStorage(RedisStorage):
    """RedisStorage whose stored values are deleted ``expire_time`` seconds after they are
    written, read or not, so results nobody collects do not pile up."""

    def __init__(
        self, name: str = "huey", expire_time: float = DEFAULT_EXPIRE_TIME, **kwargs: Any
    ) -> None:
        if expire_time <= 0:
            raise ConfigurationError(f"expire_time must be positive, not {expire_time}")
        super().__init__(name, **kwargs)
        self.expire_time = expire_time
        self._ttl_ms = max(1, int(expire_time * 1000))
        self._kv_prefix = self._prefix + "kv:"
        self._counter_prefix = self._prefix + "counter:"
        self._peek_keys_script = self._load_script("peek_keys_or_emit")
        self._pop_key_script = self._load_script("pop_key")

    def _kv(self, key: str) -> str:
        return self._kv_prefix + as_key(key)

    def _kv_keys(self, prefix: str | None = None) -> list[bytes]:
        match = match_prefix(prefix or self._kv_prefix)
        return list(self._redis().scan_iter(match=match, count=1000))

    def _peek_or_emit_command(self, keys: Sequence[str], message: str | None) -> tuple:
        args = ["0" if message is None else "1", message or ""]
        keys = [self._events, *(self._kv(key) for key in keys)]
        return self._wire.script(self._peek_keys_script, keys, args)

    def _has_command(self, key: str) -> tuple:
        return ("EXISTS", self._kv(key))

    @_mapped
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        key = as_key(key)
        self._write(("SET", self._kv(key), value, "PX", self._ttl_ms), *self._notify(key))

    @_mapped
    def peek_data(self, key: str) -> bytes | None:
        return self._read(("GET", self._kv(key)), repeatable=True)[0]

    @_mapped
    def pop_data(self, key: str) -> bytes | None:
        key = as_key(key)
        receipt = self._prefix + "popped:" + uuid.uuid4().hex
        keys = [self._kv(key), self._notify_key(key), receipt]
        command = self._wire.script(self._pop_key_script, keys, [_RECEIPT_TTL])
        return self._read(command, repeatable=True)[0]

    @_mapped
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Expires after ``ttl`` seconds when given, else ``expire_time``."""
        key = as_key(key)
        ttl_ms = self._ttl_ms if ttl is None else max(1, int(ttl * 1000))
        command = ("SET", self._kv(key), value, "NX", "PX", ttl_ms)
        return self._read(command, *self._notify(key))[0] is not None

    @_mapped
    def result_store_size(self) -> int:
        return len(self._kv_keys())

    @_mapped
    def result_items(self) -> dict[str, bytes]:
        keys = self._kv_keys()
        values = self._redis().mget(keys) if keys else []
        start = len(self._kv_prefix)
        return {
            key.decode()[start:]: value
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }

    @_mapped
    def flush_results(self) -> None:
        keys = self._kv_keys()
        if keys:
            self._redis().delete(*keys)

    # -- counters: each under its own key, expiring ``expire_time`` after its last change
    @_mapped
    def incr(self, key: str, amount: int = 1) -> int:
        counter = self._counter_prefix + as_key(key)
        return self._read(("INCRBY", counter, amount), ("PEXPIRE", counter, self._ttl_ms))[0]

    @_mapped
    def delete_counter(self, key: str) -> None:
        self._redis().delete(self._counter_prefix + as_key(key))

    @_mapped
    def flush_counters(self) -> None:
        keys = self._kv_keys(self._counter_prefix)
        if keys:
            self._redis().delete(*keys)


class PriorityExpiringRedisStorage(ExpiringRedisStorage, PriorityRedisStorage):
    """Both: the priority queue, and values that expire (huey 3's PriorityRedisExpireHuey)."""


#: huey 3's names for the two, for apps that pass ``storage_class=`` themselves.
RedisExpireStorage = ExpiringRedisStorage
PriorityRedisExpireStorage = PriorityExpiringRedisStorage
