"""RedisStorage: the contract on a Redis server (lists, sorted sets, a hash, pub/sub and Lua).

Keys of one instance share the prefix ``huey:{name}:`` (the braces are a cluster hash tag,
so the Lua scripts that derive in-flight keys stay in one slot). The queue's head, the next
message to run, is the list's right end; ``fetch`` moves it to the left end of the
consumer's in-flight list. Needs Redis 6.0 or newer; BLMOVE is used from 6.2.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline, PubSub
from redis.retry import Retry

from huey.exceptions import ConfigurationError, StorageUnavailable
from huey.storage.base import BaseStorage, to_score

_LUA_DIR = Path(__file__).parent / "lua"
# How long a wait_for_data wake-up token outlives its put_data: only waiters that checked
# just before the put need it, so seconds are plenty and nothing accumulates.
_NOTIFY_TTL = 10
# How long a first wait_schedule_change waits for Redis to confirm its subscription.
_CONFIRM_WAIT = 5.0
_Method = TypeVar("_Method", bound=Callable[..., Any])


@contextlib.contextmanager
def _unreachable_as_unavailable(where: str) -> Iterator[None]:
    """Turn redis-py's lost-connection errors into StorageUnavailable, keeping the cause."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StorageUnavailable(f"Redis at {where} is unreachable: {exc}") from exc


def _unavailable(method: _Method) -> _Method:
    """Decorate a storage method so a lost connection raises StorageUnavailable."""

    @functools.wraps(method)
    def wrapper(self: RedisStorage, *args: Any, **kwargs: Any) -> Any:
        with _unreachable_as_unavailable(self.where):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _make_client(
    url: str | None, pool: redis.ConnectionPool | None, client: redis.Redis | None, kwargs: dict
) -> redis.Redis:
    """One client from exactly one of url / connection_pool / client / plain redis kwargs."""
    given = [source for source in (url, pool, client) if source is not None]
    if len(given) > 1 or (kwargs and (pool is not None or client is not None)):
        raise ConfigurationError("RedisStorage takes one of url, connection_pool, client or kwargs")
    if client is None and pool is not None:
        client = redis.Redis(connection_pool=pool)
    if client is None:
        # Fail fast: the consumer backs off on StorageUnavailable itself, so a long redis-py
        # retry loop would only stall it. Two quick retries still heal a stale socket.
        kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=0.1, base=0.01), 2))
        client = redis.Redis.from_url(url, **kwargs) if url else redis.Redis(**kwargs)
    if client.get_connection_kwargs().get("decode_responses"):
        raise ConfigurationError(
            "RedisStorage stores bytes: build its client without decode_responses"
        )
    return client


class RedisStorage(BaseStorage):
    """Blocking Redis storage; ``batch()`` sends the block's writes in one pipeline."""

    blocking = True

    def __init__(
        self,
        name: str = "huey",
        url: str | None = None,
        connection_pool: redis.ConnectionPool | None = None,
        client: redis.Redis | None = None,
        **redis_kwargs: Any,
    ) -> None:
        super().__init__(name)
        self._owns_pool = client is None and connection_pool is None
        self._client = _make_client(url, connection_pool, client, redis_kwargs)
        params = self._client.get_connection_kwargs()
        self.where = params.get("path") or f"{params.get('host')}:{params.get('port')}"
        self._prefix = f"huey:{{{name}}}:"
        self._queue = self._prefix + "queue"
        self._inflight_prefix = self._prefix + "inflight:"
        self._consumers = self._prefix + "consumers"  # sorted set: consumer id -> heartbeat
        self._schedule = self._prefix + "schedule"
        self._results = self._prefix + "results"
        self._errors = self._prefix + "errors"
        self._events = self._prefix + "events"
        self._schedule_changed = self._prefix + "schedule-changed"
        self._requeue_script = self._load_script("requeue")
        self._read_schedule_script = self._load_script("read_schedule")
        self._enqueue_due_script = self._load_script("enqueue_due")
        self._has_blmove: bool | None = None  # learnt from the server on first blocking move
        self._local = threading.local()  # per thread: open batch pipeline, schedule pubsub

    # -- plumbing ---------------------------------------------------------------
    def _load_script(self, name: str) -> Any:
        """Register ``lua/<name>.lua``; redis-py loads it into the server on first call."""
        return self._client.register_script((_LUA_DIR / f"{name}.lua").read_text())

    def _redis(self) -> redis.Redis:
        """The client for commands that read; refused inside :meth:`batch`."""
        if getattr(self._local, "batch", None) is not None:
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")
        return self._client

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Pipeline]:
        """The open batch's pipeline, or a pipeline sent when the ``with`` block ends."""
        batch = getattr(self._local, "batch", None)
        if batch is not None:
            yield batch
            return
        pipe = self._client.pipeline(transaction=False)
        yield pipe
        pipe.execute()

    def _inflight(self, consumer_id: str) -> str:
        return self._inflight_prefix + consumer_id

    def _notify_key(self, key: str) -> str:
        return self._prefix + "notify:" + key

    def _notify(self, pipe: Pipeline, key: str) -> None:
        """Leave a short-lived token that wakes :meth:`wait_for_data` waiters on ``key``."""
        pipe.lpush(self._notify_key(key), 1)
        pipe.expire(self._notify_key(key), _NOTIFY_TTL)

    def _blocking_move(
        self, client: redis.Redis | Pipeline, source: str, destination: str, timeout: float
    ) -> Any:
        """Move the right end of ``source`` to the left of ``destination``, waiting for one."""
        if self._has_blmove is None:
            version = str(self._client.info("server")["redis_version"])
            self._has_blmove = tuple(int(part) for part in version.split(".")[:2]) >= (6, 2)
        # Redis reads a 0 timeout as "forever" and truncates to milliseconds.
        block = max(timeout, 0.001)
        if self._has_blmove:
            return client.blmove(source, destination, block, "RIGHT", "LEFT")
        return client.brpoplpush(source, destination, block)

    # -- queue ------------------------------------------------------------------
    def enqueue(self, data: bytes) -> None:
        self.enqueue_many([data])

    @_unavailable
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        if items:
            with self._writing() as pipe:
                pipe.lpush(self._queue, *items)

    @_unavailable
    def dequeue(self) -> bytes | None:
        return self._redis().rpop(self._queue)

    @_unavailable
    def unqueue(self, data: bytes) -> int:
        return self._redis().lrem(self._queue, 0, data)

    @_unavailable
    def queue_size(self) -> int:
        return self._redis().llen(self._queue)

    @_unavailable
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        start = 0 if limit is None else -limit
        return self._redis().lrange(self._queue, start, -1)[::-1]

    @_unavailable
    def flush_queue(self) -> None:
        self._redis().delete(self._queue)

    # -- in-flight --------------------------------------------------------------
    @_unavailable
    def fetch(self, consumer_id: str, timeout: float) -> bytes | None:
        """Take the oldest message; a consumer with no heartbeat yet is registered as alive now."""
        pipe = self._redis().pipeline(transaction=False)
        self._blocking_move(pipe, self._queue, self._inflight(consumer_id), timeout)
        pipe.zadd(self._consumers, {consumer_id: time.time()}, nx=True)
        return pipe.execute()[0]

    @_unavailable
    def ack(self, consumer_id: str, data: bytes) -> None:
        with self._writing() as pipe:
            pipe.lrem(self._inflight(consumer_id), 1, data)

    @_unavailable
    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        client = self._redis()
        if consumer_id is not None:
            return client.lrange(self._inflight(consumer_id), 0, -1)[::-1]
        pipe = client.pipeline(transaction=False)
        for known in self._consumer_ids():
            pipe.lrange(self._inflight(known), 0, -1)
        return [item for items in pipe.execute() for item in reversed(items)]

    @_unavailable
    def inflight_size(self) -> int:
        pipe = self._redis().pipeline(transaction=False)
        for known in self._consumer_ids():
            pipe.llen(self._inflight(known))
        return sum(pipe.execute())

    def _consumer_ids(self) -> list[str]:
        return sorted(member.decode() for member in self._redis().zrange(self._consumers, 0, -1))

    @_unavailable
    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        with self._writing() as pipe:
            pipe.zadd(self._consumers, {consumer_id: timestamp})

    @_unavailable
    def requeue(self, consumer_id: str) -> int:
        keys = [self._queue, self._consumers]
        args = [self._inflight_prefix, "consumer", consumer_id]
        return self._requeue_script(keys=keys, args=args, client=self._redis())

    @_unavailable
    def requeue_expired(self, cutoff: float) -> int:
        keys = [self._queue, self._consumers]
        args = [self._inflight_prefix, "expired", repr(float(cutoff))]
        return self._requeue_script(keys=keys, args=args, client=self._redis())

    # -- schedule ---------------------------------------------------------------
    @_unavailable
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        with self._writing() as pipe:
            pipe.zadd(self._schedule, {data: to_score(timestamp)})
            pipe.publish(self._schedule_changed, 1)

    @_unavailable
    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        args = [repr(to_score(timestamp))]
        return self._read_schedule_script(keys=[self._schedule], args=args, client=self._redis())

    @_unavailable
    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        args = [repr(to_score(timestamp))]
        keys = [self._schedule, self._queue]
        return self._enqueue_due_script(keys=keys, args=args, client=self._redis())

    @_unavailable
    def next_scheduled_score(self) -> float | None:
        first = self._redis().zrange(self._schedule, 0, 0, withscores=True)
        return first[0][1] if first else None

    @_unavailable
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

    @_unavailable
    def schedule_size(self) -> int:
        return self._redis().zcard(self._schedule)

    @_unavailable
    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        return self._redis().zrange(self._schedule, 0, -1 if limit is None else limit - 1)

    @_unavailable
    def flush_schedule(self) -> None:
        self._redis().delete(self._schedule)

    # -- key/value --------------------------------------------------------------
    @_unavailable
    def put_data(self, key: str, value: bytes) -> None:
        with self._writing() as pipe:
            pipe.hset(self._results, key, value)
            self._notify(pipe, key)

    @_unavailable
    def peek_data(self, key: str) -> bytes | None:
        return self._redis().hget(self._results, key)

    @_unavailable
    def pop_data(self, key: str) -> bytes | None:
        pipe = self._redis().pipeline(transaction=True)
        pipe.hget(self._results, key)
        pipe.hdel(self._results, key)
        pipe.delete(self._notify_key(key))
        return pipe.execute()[0]

    @_unavailable
    def has_data_for_key(self, key: str) -> bool:
        return bool(self._redis().hexists(self._results, key))

    @_unavailable
    def put_if_empty(self, key: str, value: bytes) -> bool:
        pipe = self._redis().pipeline(transaction=False)
        pipe.hsetnx(self._results, key, value)
        self._notify(pipe, key)
        return bool(pipe.execute()[0])

    @_unavailable
    def wait_for_data(self, key: str, timeout: float) -> bool:
        """Block on the key's token list (rotating the token, so every waiter wakes)."""
        client = self._redis()
        notify = self._notify_key(key)
        deadline = time.monotonic() + timeout
        while True:
            if client.hexists(self._results, key):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._blocking_move(client, notify, notify, remaining) is not None:
                if client.hexists(self._results, key):
                    return True
                client.delete(notify)  # the token outlived its value (popped since): wait again

    @_unavailable
    def result_store_size(self) -> int:
        return self._redis().hlen(self._results)

    @_unavailable
    def result_items(self) -> dict[str, bytes]:
        return {key.decode(): value for key, value in self._redis().hgetall(self._results).items()}

    @_unavailable
    def flush_results(self) -> None:
        self._redis().delete(self._results)

    # -- errors -----------------------------------------------------------------
    @_unavailable
    def put_error(self, metadata: bytes) -> None:
        with self._writing() as pipe:
            pipe.lpush(self._errors, metadata)

    @_unavailable
    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        if limit is not None and limit <= 0:
            return []
        stop = -1 if limit is None else offset + limit - 1
        return self._redis().lrange(self._errors, offset, stop)

    @_unavailable
    def error_count(self) -> int:
        return self._redis().llen(self._errors)

    @_unavailable
    def flush_errors(self) -> None:
        self._redis().delete(self._errors)

    # -- events -----------------------------------------------------------------
    @_unavailable
    def emit(self, message: str) -> None:
        with self._writing() as pipe:
            pipe.publish(self._events, message)

    @_unavailable
    def __iter__(self) -> Iterator[str]:
        """Subscribe now (not at the first ``next``) so no event emitted after this call is lost."""
        pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self._events)
        return self._listen(pubsub)

    def _listen(self, pubsub: PubSub) -> Iterator[str]:
        try:
            with _unreachable_as_unavailable(self.where):
                for message in pubsub.listen():
                    yield message["data"].decode()
        finally:
            pubsub.close()

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Queue the block's writes on one pipeline and send it when the block ends
        (nothing is sent if it raises). A nested batch joins the outer one."""
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        pipe = self._client.pipeline(transaction=False)
        self._local.batch = pipe
        try:
            yield
        finally:
            self._local.batch = None
        with _unreachable_as_unavailable(self.where):
            pipe.execute()

    @_unavailable
    def flush_all(self) -> None:
        client = self._redis()
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)

    def close(self) -> None:
        held = getattr(self._local, "schedule_pubsub", None)
        self._local.schedule_pubsub = None
        if held is not None and held[0] == os.getpid():
            held[1].close()
        if self._owns_pool:
            self._client.connection_pool.disconnect(inuse_connections=False)
