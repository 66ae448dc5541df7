"""RedisStorage: the contract on a Redis server (lists, sorted sets, a hash, pub/sub and Lua).

Keys of one instance share the prefix ``huey:{name}:`` (the braces are a cluster hash tag,
so the Lua scripts that derive in-flight keys stay in one slot). The queue's head, the next
message to run, is the list's right end; ``fetch`` moves it to the left end of the
consumer's in-flight list. Needs Redis 6.0 or newer; BLMOVE is used from 6.2.

The calls a worker makes for every task (fetch, ack, results, events, batches) go through
:mod:`huey.storage.redis_wire`, redis-py connections driven directly, which never send
again what Redis may have run; inspection and administration use the redis-py client.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import redis
from redis.backoff import ExponentialBackoff
from redis.client import PubSub
from redis.commands.core import Script
from redis.retry import Retry

from huey.exceptions import ConfigurationError, CorruptEntry, StorageError, StorageUnavailable
from huey.storage import sentinel
from huey.storage.base import BaseStorage, as_key, to_score
from huey.storage.errors import ErrorMapping
from huey.storage.redis_wire import Wire

_LUA_DIR = Path(__file__).parent / "lua"
# How long a wait_for_data wake-up token outlives its put_data: only waiters that checked
# just before the put need it, so seconds are plenty and nothing accumulates.
_NOTIFY_TTL = 10
# How long a pop_data keeps what it took under its receipt: the call is sent again at once
# after a lost reply.
_RECEIPT_TTL = 10
# How long a first wait_schedule_change waits for Redis to confirm its subscription.
_CONFIRM_WAIT = 5.0
# The longest single blocking command by default (longer waits repeat it): redis-py's
# default socket timeout is 5 s. huey 1.x called it ``read_timeout``.
_LONGEST_BLOCK = 1.0
# How many failures the error store keeps by default, newest first (as huey 1.x).
_MAX_ERRORS = 1000
# Storage options a redis:// URL may carry in its query, beside redis-py's own.
_URL_OPTIONS = {
    "max_errors": int,
    "read_timeout": float,
    "wait_replicas": int,
    "wait_timeout": float,
}
# How much longer than its block a blocking command's socket waits for the reply.
_REPLY_MARGIN = 1.0


#: Error replies that mean "not now" rather than "no": the server is loading its data, a
#: script or replica is busy, a cluster slot moves. Retried like a lost connection.
_TRANSIENT_REPLIES = ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


def match_prefix(prefix: str) -> str:
    """The SCAN pattern matching every key that starts with ``prefix``."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"


def _storage_error(where: str, error: redis.RedisError) -> StorageError:
    """The library's error for anything redis-py or the wire layer raised: the one place
    Redis errors are mapped (lost connections and transient replies become
    StorageUnavailable; OOM, READONLY, MISCONF, WRONGTYPE, ... a StorageError)."""
    message = str(error)
    code = getattr(error, "status_code", None)  # redis-py cuts OOM, READONLY... off the text
    if code and not message.startswith(code):
        message = f"{code} {message}"
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)) or message.startswith(
        _TRANSIENT_REPLIES
    ):
        return StorageUnavailable(f"Redis at {where} is unreachable: {message}", message)
    return StorageError(f"Redis at {where} refused: {message}", message)


_MAPPING = ErrorMapping(redis.RedisError, _storage_error, "where")
_storage_errors = _MAPPING.errors
_mapped = _MAPPING.method


# Keywords that say where the server is, so they conflict with a url (None means unset).
_ADDRESS_KWARGS = ("host", "port", "db", "unix_socket_path")


def _make_client(
    url: str | None, pool: redis.ConnectionPool | None, client: redis.Redis | None, kwargs: dict
) -> redis.Redis:
    """One client from exactly one of url / connection_pool / client / plain redis kwargs."""
    for key in _ADDRESS_KWARGS:
        if key in kwargs and kwargs[key] is None:
            del kwargs[key]  # as huey 3: host=None means "not given"
    given = [source for source in (url, pool, client) if source is not None]
    addressed = any(key in kwargs for key in _ADDRESS_KWARGS)
    if (
        len(given) > 1
        or (kwargs and (pool is not None or client is not None))
        or (addressed and url is not None)
    ):
        raise ConfigurationError("RedisStorage takes one of url, connection_pool, client or kwargs")
    if client is None and pool is not None:
        client = redis.Redis(connection_pool=pool)
    if client is None:
        # Fail fast: the consumer backs off on StorageUnavailable itself, so a long redis-py
        # retry loop would only stall it. Two quick retries still heal a stale socket.
        kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=0.1, base=0.01), 2))
        if sentinel.is_sentinel_url(url):
            pool = sentinel.connection_pool(sentinel.parse(url), **kwargs)
            client = redis.Redis(connection_pool=pool)
        else:
            client = redis.Redis.from_url(url, **kwargs) if url else redis.Redis(**kwargs)
    if client.get_connection_kwargs().get("decode_responses"):
        raise ConfigurationError(
            "RedisStorage stores bytes: build its client without decode_responses"
        )
    return client


def _where(url: str | None, client: redis.Redis) -> str:
    """How error messages name the server: its socket, address or Sentinel service."""
    if sentinel.is_sentinel_url(url):
        return sentinel.parse(url).where
    params = client.get_connection_kwargs()
    return params.get("path") or f"{params.get('host')}:{params.get('port')}"


def _split_url_options(url: str | None) -> tuple[str | None, dict[str, Any]]:
    """Take our own options (``?max_errors=100&read_timeout=2``) out of a redis:// URL."""
    base, _, query = (url or "").partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(key in _URL_OPTIONS for key, _ in pairs):
        return url, {}
    options = {}
    for key, value in pairs:
        if key in _URL_OPTIONS:
            try:
                options[key] = _URL_OPTIONS[key](value)
            except ValueError:
                message = f"Redis URL option {key}={value!r} is not a number"
                raise ConfigurationError(message) from None
    rest = urlencode([(k, v) for k, v in pairs if k not in _URL_OPTIONS])
    return f"{base}?{rest}" if rest else base, options


def _patient_client(client: redis.Redis, socket_timeout: float) -> redis.Redis:
    """A client opening connections like ``client``'s, with a longer ``socket_timeout``."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": socket_timeout}
    patient = redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    return redis.Redis(connection_pool=patient)


class RedisStorage(BaseStorage):
    """Blocking Redis storage; ``batch()`` sends the block's writes in one pipeline.

    As in huey 1.x, ``max_errors`` bounds the error store (the newest N are kept; None
    keeps all) and ``read_timeout`` is the longest one blocking read waits before it is
    repeated. ``wait_replicas=N`` ends every per-task call with ``WAIT N`` (up to
    ``wait_timeout`` seconds), so nothing acknowledged can be lost to a failover
    (docs/deploy/redis-ha.md). All four may also come as query parameters of ``url``.

    huey 3's options: ``client_name`` names the connections (CLIENT SETNAME);
    ``blocking``, ``notify_result``, ``notify_result_ttl`` and ``clean_name`` are accepted
    with no effect (waits always block on a wake-up key; names are checked, not cleaned).
    ``conn`` is the redis-py client. The list queue has no priorities (``priority`` is
    False): :class:`PriorityRedisStorage` has them.
    """

    blocking = True
    priority = False
    #: The queue's Redis type, and the Lua file defining how scripts add to it.
    queue_type = "list"
    queue_lua = "fifo"

    def __init__(
        self,
        name: str = "huey",
        url: str | None = None,
        connection_pool: redis.ConnectionPool | None = None,
        client: redis.Redis | None = None,
        max_errors: int | None = _MAX_ERRORS,
        read_timeout: float = _LONGEST_BLOCK,
        wait_replicas: int = 0,
        wait_timeout: float = 1.0,
        client_name: str | None = None,
        blocking: bool = True,
        notify_result: bool = False,
        notify_result_ttl: float = 60,
        clean_name: bool = True,
        **redis_kwargs: Any,
    ) -> None:
        super().__init__(name)
        if client_name is not None and connection_pool is None and client is None:
            redis_kwargs["client_name"] = client_name
        url, url_options = _split_url_options(url)
        max_errors = url_options.get("max_errors", max_errors)
        read_timeout = url_options.get("read_timeout", read_timeout)
        if max_errors is not None and max_errors < 1:
            raise ConfigurationError(f"max_errors must be at least 1 (or None), not {max_errors}")
        if read_timeout <= 0:
            raise ConfigurationError(f"read_timeout must be positive, not {read_timeout}")
        self.max_errors = max_errors
        self.read_timeout = read_timeout
        self._owns_pool = client is None and connection_pool is None
        self._client = _make_client(url, connection_pool, client, redis_kwargs)
        self.where = _where(url, self._client)
        self._prefix = f"huey:{{{name}}}:"
        self._queue = self._prefix + "queue"
        self._inflight_prefix = self._prefix + "inflight:"
        self._consumers = self._prefix + "consumers"  # sorted set: consumer id -> heartbeat
        self._schedule = self._prefix + "schedule"
        self._results = self._prefix + "results"
        self._counters = self._prefix + "counters"
        self._errors = self._prefix + "errors"
        self._events = self._prefix + "events"
        self._schedule_changed = self._prefix + "schedule-changed"
        self._requeue_script = self._load_script(self.queue_lua, "requeue")
        self._read_schedule_script = self._load_script("read_schedule")
        self._enqueue_due_script = self._load_script(self.queue_lua, "enqueue_due")
        self._fetch_many_script = self._load_script("fetch_many")
        self._take_foreign_script = self._load_script("take_foreign")
        self._peek_or_emit_script = self._load_script("peek_or_emit")
        self._pop_data_script = self._load_script("pop_data")
        self._put_if_empty_ttl_script = self._load_script("put_if_empty_ttl")
        self._has_blmove: bool | None = None  # learnt from the server on first blocking move
        self._local = threading.local()  # per thread: the open batch, the schedule pubsub
        replicas = url_options.get("wait_replicas", wait_replicas)
        replica_wait = url_options.get("wait_timeout", wait_timeout)
        self._wire = Wire(self._client, replicas, replica_wait)
        socket_timeout = self._client.get_connection_kwargs().get("socket_timeout")
        patient = self.read_timeout + _REPLY_MARGIN  # a blocking call's socket outwaits it
        self._blocking_wire = self._wire
        if socket_timeout and socket_timeout < patient:
            patient_client = _patient_client(self._client, patient)
            self._blocking_wire = Wire(patient_client, replicas, replica_wait)

    @property
    def conn(self) -> redis.Redis:
        """The redis-py client (huey 3's ``storage.conn``), for commands of your own."""
        return self._client

    def app_key(self, suffix: str) -> str:
        """A Redis key among this instance's own, for data an extension keeps beside them
        (``flush_all`` removes it too)."""
        return self._prefix + suffix

    @functools.cached_property
    def supports_hash_ttl(self) -> bool:
        """True when the server expires single hash fields (Redis 7.4+, Valkey 9+), which
        :meth:`put_if_empty` needs for a ``ttl``."""
        info = self._client.info("server")
        for field, least in (("redis_version", (7, 4)), ("valkey_version", (9,))):
            try:
                version = tuple(int(part) for part in str(info[field]).split(".")[:2])
            except (KeyError, ValueError):
                continue
            if version >= least:
                return True
        return False

    # -- plumbing ---------------------------------------------------------------
    def _load_script(self, *names: str) -> Script:
        """Register ``lua/<name>.lua`` (several: joined, in order); it is loaded into the
        server on first call."""
        source = "\n".join((_LUA_DIR / f"{name}.lua").read_text() for name in names)
        return self._client.register_script(source)

    def _redis(self) -> redis.Redis:
        """The client for commands that read; refused inside :meth:`batch`."""
        if getattr(self._local, "batch", None) is not None:
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")
        return self._client

    def _read(self, *commands: tuple, repeatable: bool = False) -> list[Any]:
        """Send commands that read, in one round trip; refused inside :meth:`batch`.
        ``repeatable``: running them twice changes nothing, so a lost reply is asked again."""
        self._redis()
        return self._wire.call(*commands, repeatable=repeatable)

    def _read_blocking(self, *commands: tuple, repeatable: bool = False) -> list[Any]:
        """:meth:`_read` for a call that blocks up to ``read_timeout`` on the server, on
        connections whose socket waits longer than that (a short ``socket_timeout`` would
        otherwise make every idle wait look like a lost server)."""
        self._redis()
        return self._blocking_wire.call(*commands, repeatable=repeatable)

    def _write(self, *commands: tuple) -> None:
        """Add write commands to the open batch, or send them now in one round trip."""
        batch = getattr(self._local, "batch", None)
        if batch is not None:
            batch.extend(commands)
        else:
            self._wire.call(*commands)

    def _inflight(self, consumer_id: str) -> str:
        return self._inflight_prefix + consumer_id

    def _notify_key(self, key: str) -> str:
        return self._prefix + "notify:" + key

    def _notify(self, key: str) -> tuple[tuple, ...]:
        """Commands leaving a short-lived token that wakes :meth:`wait_for_data` on ``key``."""
        return ("LPUSH", self._notify_key(key), 1), ("EXPIRE", self._notify_key(key), _NOTIFY_TTL)

    def _blocking_move(self, source: str, destination: str, timeout: float) -> tuple:
        """The command moving the right end of ``source`` to the left of ``destination``,
        waiting up to ``timeout`` (at most ``read_timeout``) for one."""
        if self._has_blmove is None:
            version = str(self._client.info("server")["redis_version"])
            self._has_blmove = tuple(int(part) for part in version.split(".")[:2]) >= (6, 2)
        # Redis reads a 0 timeout as "forever" and truncates to milliseconds.
        block = min(max(timeout, 0.001), self.read_timeout)
        if self._has_blmove:
            return ("BLMOVE", source, destination, "RIGHT", "LEFT", block)
        return ("BRPOPLPUSH", source, destination, block)

    # -- queue ------------------------------------------------------------------
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        """A ``priority`` other than 0 raises NotImplementedError, as in huey 3: the list
        queue has no order but arrival (a task's own priority is carried, not used)."""
        if priority:
            raise NotImplementedError("RedisStorage has no priorities: use PriorityRedisStorage")
        self.enqueue_many([data])

    @_mapped
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        if items:
            self._write(("LPUSH", self._queue, *items))

    @_mapped
    def dequeue(self) -> bytes | None:
        return self._read(("RPOP", self._queue))[0]  # the wire: a lost reply is not re-sent

    @_mapped
    def unqueue(self, data: bytes) -> int:
        return self._redis().lrem(self._queue, 0, data)

    @_mapped
    def queue_size(self) -> int:
        return self._redis().llen(self._queue)

    @_mapped
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        start = 0 if limit is None else -limit
        return self._redis().lrange(self._queue, start, -1)[::-1]

    @_mapped
    def flush_queue(self) -> None:
        self._redis().delete(self._queue)

    # -- in-flight --------------------------------------------------------------
    @_mapped
    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        """Take what is waiting (up to ``limit``) in one script; block only on an empty queue.
        A foreign value under the queue's key is taken away and raised as CorruptEntry."""
        try:
            return self._fetch_many(consumer_id, limit, timeout)
        except redis.ResponseError as exc:
            if "WRONGTYPE" in str(exc):
                self._take_foreign_queue()
            raise

    def _fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        inflight = self._inflight(consumer_id)
        if limit > 1:
            keys = [self._queue, inflight, self._consumers]
            command = self._wire.script(
                self._fetch_many_script, keys, [limit, consumer_id, time.time()]
            )
            taken = self._read(command)[0]
            if taken:
                return taken
        deadline = time.monotonic() + timeout
        while True:
            moved, _ = self._read_blocking(
                self._blocking_move(self._queue, inflight, deadline - time.monotonic()),
                ("ZADD", self._consumers, "NX", time.time(), consumer_id),
            )
            if moved is not None:
                return [moved]
            if time.monotonic() >= deadline:
                return []

    def _take_foreign_queue(self) -> None:
        """Remove a value of another type from the queue's key; CorruptEntry if one was there."""
        script = self._take_foreign_script
        taken = script(keys=[self._queue], args=[self.queue_type], client=self._redis())
        if taken is not None:
            kind, value = taken
            raise CorruptEntry(
                f"the queue key {self._queue} held a {kind.decode()}, not a {self.queue_type}:"
                " removed",
                value,
            )

    @_mapped
    def ack(self, consumer_id: str, data: bytes) -> None:
        self._write(("LREM", self._inflight(consumer_id), 1, data))

    @_mapped
    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        client = self._redis()
        if consumer_id is not None:
            return client.lrange(self._inflight(consumer_id), 0, -1)[::-1]
        pipe = client.pipeline(transaction=False)
        for known in self._consumer_ids():
            pipe.lrange(self._inflight(known), 0, -1)
        return [item for items in pipe.execute() for item in reversed(items)]

    @_mapped
    def inflight_size(self) -> int:
        pipe = self._redis().pipeline(transaction=False)
        for known in self._consumer_ids():
            pipe.llen(self._inflight(known))
        return sum(pipe.execute())

    def _consumer_ids(self) -> list[str]:
        # A member that is not UTF-8 was not written by a consumer; it names no list.
        members = self._redis().zrange(self._consumers, 0, -1)
        return sorted(member.decode(errors="replace") for member in members)

    @_mapped
    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        self._write(("ZADD", self._consumers, timestamp, consumer_id))

    @_mapped
    def heartbeats(self) -> dict[str, float]:
        members = self._redis().zrange(self._consumers, 0, -1, withscores=True)
        return {member.decode(errors="replace"): score for member, score in members}

    @_mapped
    def requeue(self, consumer_id: str) -> int:
        keys = [self._queue, self._consumers]
        args = [self._inflight_prefix, "consumer", consumer_id]
        return self._requeue_script(keys=keys, args=args, client=self._redis())

    @_mapped
    def requeue_expired(self, cutoff: float) -> int:
        keys = [self._queue, self._consumers]
        args = [self._inflight_prefix, "expired", repr(float(cutoff))]
        return self._requeue_script(keys=keys, args=args, client=self._redis())

    # -- schedule ---------------------------------------------------------------
    @_mapped
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        self._write(
            ("ZADD", self._schedule, to_score(timestamp), data),
            ("PUBLISH", self._schedule_changed, 1),
        )

    @_mapped
    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        args = [repr(to_score(timestamp))]  # the wire: a lost reply is not re-sent
        return self._read(self._wire.script(self._read_schedule_script, [self._schedule], args))[0]

    @_mapped
    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        args = [repr(to_score(timestamp))]
        keys = [self._schedule, self._queue]
        return self._enqueue_due_script(keys=keys, args=args, client=self._redis())

    @_mapped
    def next_scheduled_score(self) -> float | None:
        first = self._redis().zrange(self._schedule, 0, 0, withscores=True)
        return first[0][1] if first else None

    @_mapped
    def wait_schedule_change(self, timeout: float) -> None:
        """Return once something was scheduled since this thread's previous call (at once on
        its first call), or on timeout.

        Each thread keeps one subscription open between calls, so a change made while the
        thread was busy is still waiting for it as a buffered message.
        """
        held = getattr(self._local, "schedule_pubsub", None)
        if held is None or held[0] != os.getpid():  # a forked child must not share the socket
            pubsub = self._redis().pubsub()
            pubsub.subscribe(self._schedule_changed)
            pubsub.get_message(timeout=_CONFIRM_WAIT)  # the server's "subscribed" reply
            self._local.schedule_pubsub = (os.getpid(), pubsub)
            return
        pubsub = held[1]
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining):
                while pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                    pass  # one wake-up for every change already announced
                return

    @_mapped
    def schedule_size(self) -> int:
        return self._redis().zcard(self._schedule)

    @_mapped
    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        return self._redis().zrange(self._schedule, 0, -1 if limit is None else limit - 1)

    @_mapped
    def flush_schedule(self) -> None:
        self._redis().delete(self._schedule)

    # -- key/value --------------------------------------------------------------
    @_mapped
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        key = as_key(key)
        self._write(("HSET", self._results, key, value), *self._notify(key))

    @_mapped
    def peek_data(self, key: str) -> bytes | None:
        return self._read(("HGET", self._results, as_key(key)), repeatable=True)[0]

    @_mapped
    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        """One script: the values, and the event published only when all of them are None."""
        command = self._peek_or_emit_command(keys, message)
        batch = getattr(self._local, "batch", None)
        if batch is None:
            return self._read(command)[0]
        values: list[bytes | None] = []
        batch.append(command)
        self._local.answers.append((len(batch) - 1, values))
        return values

    def _peek_or_emit_command(self, keys: Sequence[str], message: str | None) -> tuple:
        args = ["0" if message is None else "1", message or "", *keys]
        return self._wire.script(self._peek_or_emit_script, [self._results, self._events], args)

    def _has_command(self, key: str) -> tuple:
        """The command answering whether ``key`` holds a value (1 or 0)."""
        return ("HEXISTS", self._results, key)

    @_mapped
    def pop_data(self, key: str) -> bytes | None:
        """Take the value in one script that leaves a receipt, so it can be sent again."""
        key = as_key(key)
        receipt = self._prefix + "popped:" + uuid.uuid4().hex
        keys = [self._results, self._notify_key(key), receipt]
        command = self._wire.script(self._pop_data_script, keys, [key, _RECEIPT_TTL])
        return self._read(command, repeatable=True)[0]

    @_mapped
    def has_data_for_key(self, key: str) -> bool:
        return bool(self._read(self._has_command(as_key(key)), repeatable=True)[0])

    @_mapped
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """``ttl`` needs a server that expires hash fields (:attr:`supports_hash_ttl`);
        NotImplementedError otherwise, as in huey 3."""
        key = as_key(key)
        if ttl is None:
            return bool(self._read(("HSETNX", self._results, key, value), *self._notify(key))[0])
        if not self.supports_hash_ttl:
            raise NotImplementedError("a ttl needs Redis 7.4+ (or RedisExpireStorage)")
        args = [key, value, max(1, int(ttl * 1000))]
        command = self._wire.script(self._put_if_empty_ttl_script, [self._results], args)
        return bool(self._read(command, *self._notify(key))[0])

    @_mapped
    def wait_for_data(self, key: str, timeout: float) -> bool:
        """Block on the key's token list (rotating the token, so every waiter wakes); the
        check after a wake-up rides in the same round trip as the wait."""
        key = as_key(key)
        notify = self._notify_key(key)
        deadline = time.monotonic() + timeout
        if self.has_data_for_key(key):
            return True
        while (remaining := deadline - time.monotonic()) > 0:
            token, present = self._read_blocking(  # rotating the token list onto itself is
                self._blocking_move(notify, notify, remaining),  # repeatable
                self._has_command(key),
                repeatable=True,
            )
            if present:
                return True
            if token is not None:  # the token outlived its value (popped since)
                self._read(("DEL", notify), repeatable=True)
        return False

    @_mapped
    def result_store_size(self) -> int:
        return self._read(("HLEN", self._results), repeatable=True)[0]

    @_mapped
    def result_items(self) -> dict[str, bytes]:
        return {key.decode(): value for key, value in self._redis().hgetall(self._results).items()}

    @_mapped
    def flush_results(self) -> None:
        self._redis().delete(self._results)

    # -- counters ---------------------------------------------------------------
    @_mapped
    def incr(self, key: str, amount: int = 1) -> int:
        return self._read(("HINCRBY", self._counters, as_key(key), amount))[0]

    @_mapped
    def delete_counter(self, key: str) -> None:
        self._redis().hdel(self._counters, as_key(key))

    @_mapped
    def flush_counters(self) -> None:
        self._redis().delete(self._counters)

    # -- errors -----------------------------------------------------------------
    @_mapped
    def put_error(self, metadata: bytes) -> None:
        if self.max_errors is None:
            self._write(("LPUSH", self._errors, metadata))
        else:
            self._write(
                ("LPUSH", self._errors, metadata), ("LTRIM", self._errors, 0, self.max_errors - 1)
            )

    @_mapped
    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        stop = -1 if limit is None else offset + limit - 1
        return self._redis().lrange(self._errors, offset, stop)

    @_mapped
    def error_count(self) -> int:
        return self._redis().llen(self._errors)

    @_mapped
    def flush_errors(self) -> None:
        self._redis().delete(self._errors)

    # -- events -----------------------------------------------------------------
    @_mapped
    def emit(self, message: str) -> None:
        self._write(("PUBLISH", self._events, message))

    @_mapped
    def __iter__(self) -> Iterator[str]:
        """Subscribe now (not at the first ``next``) and wait for the server to confirm it,
        so no event emitted after this call is lost: redis-py's subscribe only sends the
        command, and a PUBLISH on another connection can reach the server first."""
        pubsub = self._redis().pubsub()
        try:
            pubsub.subscribe(self._events)
            deadline = time.monotonic() + self.read_timeout + _REPLY_MARGIN
            while (remaining := deadline - time.monotonic()) > 0:
                message = pubsub.get_message(timeout=remaining)
                if message is not None and message["type"] == "subscribe":
                    return self._listen(pubsub)
            raise redis.TimeoutError("the server did not confirm the events subscription")
        except BaseException:
            pubsub.close()
            raise

    def _listen(self, pubsub: PubSub) -> Iterator[str]:
        try:
            with _storage_errors(self.where):
                for message in pubsub.listen():
                    if message["type"] == "message":
                        yield message["data"].decode()
        finally:
            pubsub.close()

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the block's writes and send them in one round trip when the block ends
        (nothing is sent if it raises); then fill in the values of its peek_or_emit calls.
        A nested batch joins the outer one."""
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        commands: list[tuple] = []
        answers: list[tuple[int, list]] = []  # (command index, list to fill) of peek_or_emit
        self._local.batch, self._local.answers = commands, answers
        try:
            yield
        finally:
            self._local.batch = None
        if commands:
            with _storage_errors(self.where):
                replies = self._wire.call(*commands)
            for index, values in answers:
                values.extend(replies[index])

    @_mapped
    def flush_all(self) -> None:
        client = self._redis()
        keys = list(client.scan_iter(match=match_prefix(self._prefix), count=1000))
        if keys:
            client.delete(*keys)

    def close(self) -> None:
        held = getattr(self._local, "schedule_pubsub", None)
        self._local.schedule_pubsub = None
        if held is not None and held[0] == os.getpid():
            held[1].close()
        self._wire.close()
        if self._blocking_wire is not self._wire:
            self._blocking_wire.close()
        if self._owns_pool:
            self._client.connection_pool.disconnect(inuse_connections=False)
