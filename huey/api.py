"""Huey: the decorators, enqueueing, hooks, revoke/restore, results and inspection."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import records, revocation
from .crontab import crontab
from .events import EVENT_SCHEDULED
from .exceptions import MessageError, TaskNameTaken, UnknownTaskError
from .execution import error_metadata, execute
from .group import ChordConfig, ChordResult, chord, enqueue_group, group
from .huey3 import NO_EFFECT_OPTIONS, Huey3API
from .lock import LOCK_PREFIX, TaskLock
from .message import Message, decode, encode, read_all
from .rate_limit import RateLimit
from .result import EMPTY, PipelineResults, Result, ResultGroup, TaskResultWrapper
from .serializer import Serializer
from .signals import SIGNAL_SCHEDULED, Signals
from .storage import (
    BaseStorage,
    MemoryStorage,
    PriorityRedisStorage,
    RedisStorage,
    SqliteStorage,
    storage_from_url,
)
from .storage.base import check_name
from .task import (
    HAND_WRITTEN,
    PeriodicQueueTask,
    PeriodicTask,
    QueueTask,
    Task,
    utcnow,
)
from .wrapper import TaskWrapper

# What huey 1.x applications import from huey.api: the classes and helpers of the reference,
# and the names huey 3's huey.api offers (docs/huey3.md).
__all__ = [
    "BaseStorage",
    "BlackHoleHuey",
    "ChordResult",
    "FileHuey",
    "Huey",
    "MemoryHuey",
    "PeriodicQueueTask",
    "PeriodicTask",
    "PriorityRedisExpireHuey",
    "PriorityRedisHuey",
    "QueueTask",
    "RateLimit",
    "RedisExpireHuey",
    "RedisHuey",
    "Result",
    "ResultGroup",
    "SqliteHuey",
    "Task",
    "TaskLock",
    "TaskResultWrapper",
    "TaskWrapper",
    "chord",
    "crontab",
    "group",
]

logger = logging.getLogger("huey")

RESERVED_PREFIX = "huey."
# One encoder for every event: json.dumps(default=...) builds a new one per call.
_EVENT_JSON = json.JSONEncoder(default=str)


class Huey(Huey3API):
    """A task queue: decorate functions with :meth:`task`, run a consumer to execute them.

    Storage is picked by ``url`` (``redis://``, ``rediss://``, ``unix://``,
    ``sqlite:///path``, ``memory://``), by an explicit ``storage`` object, or by the
    class's backend (SQLite in ``huey.db``: no server needed). It is created on first
    use, so building a Huey connects to nothing. ``name`` keys its storage, so it holds
    only letters, digits, ``_``, ``.`` and ``-``. ``secret`` turns on HMAC-signed
    messages and results, bound to this instance's name. ``blocking`` is kept for
    compatibility: workers always wait on the queue's own wake-up signal, never on a
    fixed poll interval.

    Choices where the spec is silent, as huey 3: every failed attempt is added to the
    error store and becomes the task's result (a retry that succeeds replaces it), unless
    ``store_intermediate_errors=False`` keeps the result for the final attempt;
    ``store_errors=False`` stores neither. A relative ``sqlite:///`` path is relative to
    the current directory.

    huey 3's options are accepted too: ``results`` (``result_store``), ``utc=False``
    (times in local time), ``immediate`` (run tasks as they are enqueued, on in-memory
    storage unless ``immediate_use_memory=False``), ``serializer`` (any object with
    dumps/loads), ``compression`` (zlib), ``storage_class`` and
    ``store_intermediate_errors``; see docs/huey3.md.
    """

    storage_class: type[BaseStorage] = SqliteStorage

    def __init__(
        self,
        name: str = "huey",
        result_store: bool = True,
        events: bool = True,
        store_none: bool = False,
        always_eager: bool = False,
        store_errors: bool = True,
        blocking: bool = False,
        url: str | None = None,
        storage: BaseStorage | None = None,
        secret: str | bytes | None = None,
        *,
        results: bool | None = None,
        utc: bool = True,
        immediate: bool = False,
        immediate_use_memory: bool = True,
        serializer: Serializer | None = None,
        compression: bool = False,
        storage_class: type[BaseStorage] | None = None,
        store_intermediate_errors: bool = True,
        **storage_kwargs: Any,
    ) -> None:
        self.name = check_name(name)
        self.result_store = result_store if results is None else results
        self.utc = utc
        self.events = events
        self.store_none = store_none
        self.always_eager = always_eager
        self.store_errors = store_errors
        self.store_intermediate_errors = store_intermediate_errors
        self.blocking = blocking
        self.serializer = serializer or Serializer(secret, context=name, compression=compression)
        if storage_class is not None:
            self.storage_class = storage_class
        self._url = url
        self._storage = storage
        self._storage_lock = threading.Lock()  # one live storage, however many threads ask
        self._storage_kwargs = {
            k: v for k, v in storage_kwargs.items() if k not in NO_EFFECT_OPTIONS
        }
        self._registry: dict[str, type[QueueTask]] = {}
        self._pre_execute: dict[str, Callable[[QueueTask], Any]] = {}
        self._post_execute: dict[str, Callable[[QueueTask, Any, Exception | None], Any]] = {}
        self._locks: set[str] = set()
        self.signals = Signals()
        self._startup: dict[str, Callable[[], Any]] = {}
        self._shutdown: dict[str, Callable[[], Any]] = {}
        self.immediate_use_memory = immediate_use_memory
        self.immediate = immediate

    # -- storage --------------------------------------------------------------------
    def create_storage(self) -> BaseStorage:
        """The live storage, built by :meth:`get_storage` with the storage kwargs."""
        return self.get_storage(**self._storage_kwargs)

    def get_storage(self, **storage_kwargs: Any) -> BaseStorage:
        """Build the storage from the URL, else the class's backend (huey 3's hook: a
        subclass may return any storage); a priority Redis class keeps its priority queue
        when a URL names the server."""
        if self._url:
            priority = issubclass(self.storage_class, PriorityRedisStorage)
            return storage_from_url(self._url, self.name, priority, **storage_kwargs)
        return self.storage_class(self.name, **storage_kwargs)

    @property
    def storage(self) -> BaseStorage:
        """The live storage, built on first use. Threads that ask at once (a consumer
        starting while the app enqueues) get the same one: two in-memory storages would
        be two separate queues."""
        storage = self._storage
        if storage is None:
            with self._storage_lock:
                if self._storage is None:
                    self._storage = self.create_storage()
                storage = self._storage
        return storage

    @property
    def named_storage(self) -> str | None:
        """The storage the app chose itself (a URL's scheme, a storage object's or a Redis
        class's backend, an SQLite filename), None when it left the default; hueyctl
        refuses to move such an app silently onto its default SQLite file."""
        if self._storage is not None:
            return type(self._storage).__name__
        if self._url:
            return self._url.partition(":")[0] + "://"  # the scheme only: no password
        if issubclass(self.storage_class, RedisStorage):
            return self.storage_class.__name__
        if self._storage_kwargs.get("path"):
            return f"directory {self._storage_kwargs['path']}"  # FileHuey
        filename = self._storage_kwargs.get("filename")
        return f"SQLite file {filename}" if filename else None

    def use_storage(self, storage: str | BaseStorage, **storage_kwargs: Any) -> None:
        """Point this instance at another storage (a URL or an object) before use;
        this is how a deployment manifest supplies storage to the app's Huey."""
        if self._storage is not None:
            self._storage.close()
        if isinstance(storage, BaseStorage):
            self._url, self._storage = None, storage
        else:
            self._url, self._storage, self._storage_kwargs = storage, None, storage_kwargs

    # -- decorators ---------------------------------------------------------------------
    def task(
        self,
        retries: int = 0,
        retry_delay: float = 0,
        retries_as_argument: bool = False,
        include_task: bool = False,
        name: str | None = None,
        context: bool = False,
        **task_settings: Any,
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator: calling the function enqueues it and returns a TaskResultWrapper.
        ``context=True`` is huey 3's spelling of ``include_task=True``."""

        def decorator(func: Callable[..., Any]) -> TaskWrapper:
            return TaskWrapper(
                self,
                func,
                retries,
                retry_delay,
                retries_as_argument,
                include_task,
                name,
                context=context,
                **task_settings,
            )

        return decorator

    def periodic_task(
        self,
        validate_datetime: Callable[[datetime.datetime], bool],
        name: str | None = None,
        context: bool = False,
        **task_settings: Any,
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator: the consumer enqueues the function each minute ``validate_datetime``
        accepts (see :func:`huey.crontab`)."""

        def decorator(func: Callable[..., Any]) -> TaskWrapper:
            return TaskWrapper(
                self,
                func,
                include_task=context,
                name=name,
                task_base=PeriodicQueueTask,
                validate_datetime=validate_datetime,
                **task_settings,
            )

        return decorator

    def register(self, task_class: type[QueueTask]) -> None:
        """Make a task class known so messages naming it can be executed; TaskNameTaken
        when another class holds its name (the same function decorated twice, or a second
        function given a task's name): messages would run the wrong function."""
        known = self._registry.setdefault(task_class.name, task_class)
        if known is not task_class:
            raise TaskNameTaken(
                f"a task named {task_class.name!r} is registered already: give this one "
                "another name= (or unregister the first)"
            )

    def task_class(self, name: str) -> type[QueueTask]:
        """The class registered as ``name``, else the hand-written QueueTask subclass of
        that name imported in this process; UnknownTaskError if none."""
        task_class = self._registry.get(name) or HAND_WRITTEN.get(name)
        if task_class is None:
            raise UnknownTaskError(f"task {name!r} is not registered in this process")
        return task_class

    def task_names(self) -> list[str]:
        """Names of every registered task."""
        return list(self._registry)

    def periodic_tasks(self) -> list[type[PeriodicQueueTask]]:
        return [c for c in self._registry.values() if issubclass(c, PeriodicQueueTask)]

    # -- messages -----------------------------------------------------------------------
    def serialize_task(self, task: QueueTask) -> bytes:
        """The message for ``task``; each step's ``expires`` is fixed as from now (huey 3
        fixes it at every enqueue)."""
        step: QueueTask | None = task
        while step is not None:
            if step.expires is not None:
                step.resolve_expires(self._now())
            step = step.on_complete
        return encode(task, self.serializer)

    def deserialize_task(self, data: bytes) -> QueueTask:
        """Rebuild a task; MessageError (carrying ``data``) if it cannot be."""
        return self._task(decode(data, self.serializer))

    def _task(self, message: Message) -> QueueTask:
        child = self._task(message.on_complete) if message.on_complete is not None else None
        on_error = self._task(message.on_error) if message.on_error is not None else None
        task = self.task_class(message.name)(
            message.data,
            message.task_id,
            message.eta,
            message.retries,
            message.retry_delay,
            child,
            message.priority,
            message.expires if message.expires_after is None else message.expires_after,
            on_error,
            message.timeout,
            retry_backoff=message.retry_backoff,
            expires_resolved=message.expires,
        )
        if message.chord is not None:
            cid, size, idx, callback = message.chord
            task.chord_config = ChordConfig(cid, size, idx, self._task(callback))
        return task

    # -- enqueueing -----------------------------------------------------------------------
    def enqueue(
        self, task: QueueTask | group | chord
    ) -> TaskResultWrapper | list[TaskResultWrapper] | ResultGroup | ChordResult | Any:
        """Queue ``task`` (or schedule it while its execute_time is still to come).

        Returns a TaskResultWrapper, a PipelineResults (a list) of them for a pipeline, or
        None without a result store. With ``always_eager`` the task runs now and its value is
        returned. huey 3's ``group`` gives a ResultGroup, its ``chord`` a ChordResult.
        """
        if isinstance(task, (group, chord)):
            return enqueue_group(self, task)
        if self.always_eager:
            return self._run_eagerly(task)
        self.register(type(task))
        self._announce(task, self._put(task))
        if self.immediate:
            self._run_queued()
        if not self.result_store:
            return None
        if task.on_complete is not None:
            return PipelineResults(TaskResultWrapper(self, t) for t in task.chain())
        return TaskResultWrapper(self, task)

    def enqueue_many(self, tasks: Iterable[QueueTask]) -> list[TaskResultWrapper | Any]:
        """Queue many tasks in one round trip; a result handle (or None) per task."""
        tasks = list(tasks)
        if self.always_eager:
            return [self._run_eagerly(t) for t in tasks]
        immediate = [t for t in tasks if t.execute_time is None]
        self.storage.enqueue_many([self.serialize_task(t) for t in immediate])
        for task in tasks:
            self._announce(task, task.execute_time is not None and self._put(task))
        if self.immediate:
            self._run_queued()
        return [TaskResultWrapper(self, t) if self.result_store else None for t in tasks]

    def _put(self, task: QueueTask) -> bool:
        """Queue the task's message, or schedule it while its execute time is still to
        come (a time already passed queues it at once); True when scheduled."""
        data = self.serialize_task(task)
        if task.execute_time is None or task.execute_time <= self._now():
            self.storage.enqueue(data)
            return False
        self.storage.add_to_schedule(data, task.execute_time)
        return True

    def _run_eagerly(self, task: QueueTask) -> Any:
        values = []
        for step in task.chain():
            values.append(execute(self, step, eager=True).value)
            if step.on_complete is not None:
                step.on_complete.with_parent_result(values[-1])
        return values if len(values) > 1 else values[0]

    def execute(self, task: QueueTask, timestamp: datetime.datetime | None = None) -> Any:
        """Run ``task`` here and now, as a worker would (hooks, result store, retries,
        pipeline), and return its value: None when it failed (the failure is recorded as
        a worker records it, and read through its result) or did not run. A task not due
        at ``timestamp`` (default now, on the Huey's clock; revocations and expiry are
        judged at it too) goes to the schedule instead. For testing application code
        without a consumer."""
        if not self.ready_to_run(task, timestamp):
            self._put(task)
            self.emit(EVENT_SCHEDULED, task)
            self.signals.send(SIGNAL_SCHEDULED, task)
            return None
        return execute(self, task, as_of=timestamp).value

    def build_error_result(self, task: QueueTask, exception: BaseException) -> dict[str, Any]:
        """The metadata stored when ``task`` fails (its error result and error store entry);
        override to record more, as huey 3 allows."""
        return error_metadata(task, exception)

    # -- hooks --------------------------------------------------------------------------
    def register_pre_execute(self, name: str, fn: Callable[[QueueTask], Any]) -> None:
        self._pre_execute[name] = fn

    def unregister_pre_execute(self, name: str) -> bool:
        return self._pre_execute.pop(name, None) is not None

    def pre_execute(self, name: str | None = None) -> Callable:
        """Decorator registering a pre-execute hook (raise CancelExecution to skip a task)."""

        def decorator(fn: Callable[[QueueTask], Any]) -> Callable[[QueueTask], Any]:
            self.register_pre_execute(name or fn.__name__, fn)
            return fn

        return decorator

    def register_post_execute(
        self, name: str, fn: Callable[[QueueTask, Any, Exception | None], Any]
    ) -> None:
        self._post_execute[name] = fn

    def unregister_post_execute(self, name: str) -> bool:
        return self._post_execute.pop(name, None) is not None

    def post_execute(self, name: str | None = None) -> Callable:
        """Decorator registering a post-execute hook, called with (task, value, exc)."""

        def decorator(fn: Callable[[QueueTask, Any, Exception | None], Any]) -> Callable:
            self.register_post_execute(name or fn.__name__, fn)
            return fn

        return decorator

    def pre_execute_hooks(self) -> list[Callable[[QueueTask], Any]]:
        return list(self._pre_execute.values())

    def post_execute_hooks(self) -> list[Callable[[QueueTask, Any, Exception | None], Any]]:
        return list(self._post_execute.values())

    # -- revocation -----------------------------------------------------------------------
    def revoke(self, task: QueueTask, revoke_until=None, revoke_once: bool = False) -> None:
        """Stop one task instance (or the one a result handle stands for) from running;
        supersedes any earlier revoke of it."""
        self.revoke_by_id(task.id, revoke_until, revoke_once)

    def restore(self, task: QueueTask) -> bool:
        return self.restore_by_id(task.id)

    def revoke_by_id(self, task_id: str, revoke_until=None, revoke_once: bool = False) -> None:
        revocation.revoke(self.storage, revocation.instance_key(task_id), revoke_until, revoke_once)

    def restore_by_id(self, task_id: str) -> bool:
        return revocation.restore(self.storage, revocation.instance_key(task_id))

    def revoke_all(self, task_class, revoke_until=None, revoke_once: bool = False) -> None:
        """Stop every instance of a task (a TaskWrapper, task class or task name)."""
        revocation.revoke(
            self.storage,
            revocation.class_key(task_class),
            revoke_until,
            revoke_once,
        )

    def restore_all(self, task_class) -> bool:
        """Undo revoke_all; instances revoked one by one stay revoked."""
        return revocation.restore(self.storage, revocation.class_key(task_class))

    def is_revoked(
        self,
        task,
        dt: datetime.datetime | None = None,
        peek: bool = True,
        *,
        timestamp: datetime.datetime | None = None,
    ) -> bool:
        """For a class (or TaskWrapper or name known as a task): is the class revoked?
        For an instance, its result handle or a task id: is the instance (or, but for a
        bare id, its class) revoked? huey 3's ``peek=False`` checks as a worker does (a
        revoke_once is used up, a lapsed revoke_until cleared); ``timestamp`` is ``dt``."""
        dt, consume = dt or timestamp, not peek
        if isinstance(task, TaskResultWrapper):
            task = task.task
        if isinstance(task, QueueTask):
            return self._revoked(task.task_id, task.name, dt, consume)
        if isinstance(task, str) and task not in self._registry:
            return revocation.check(self, revocation.instance_key(task), dt, consume)
        return revocation.check(self, revocation.class_key(task), dt, consume)

    def _revoked(self, task_id: str, name: str, dt=None, consume: bool = False) -> bool:
        class_revoked = revocation.check(self, revocation.class_key(name), dt, consume)
        return (
            revocation.check(self, revocation.instance_key(task_id), dt, consume) or class_revoked
        )

    def consume_revocation(self, task: QueueTask, dt: datetime.datetime | None = None) -> bool:
        """The worker's check before running, at ``dt`` (default now): uses up
        revoke_once, clears expired ones."""
        return self._revoked(task.task_id, task.name, dt, consume=True)

    # -- results ----------------------------------------------------------------------------
    def result(
        self,
        task_id: str,
        blocking: bool = False,
        timeout: float | None = None,
        backoff: float = 1.15,
        max_delay: float = 1.0,
        revoke_on_timeout: bool = False,
        preserve: bool = False,
    ) -> Any:
        """The result of ``task_id`` (see TaskResultWrapper.get for the parameters)."""
        return TaskResultWrapper(self, QueueTask(task_id=task_id)).get(
            blocking, timeout, backoff, max_delay, revoke_on_timeout, preserve
        )

    def read_result(self, task_id: str, preserve: bool = False) -> Any:
        """The unpickled stored result, or EMPTY; removed from the store unless ``preserve``.
        A result that fails to verify or unpickle is EMPTY too (see :mod:`huey.records`)."""
        raw = self.storage.peek_data(task_id) if preserve else self.storage.pop_data(task_id)
        if raw is None:
            return EMPTY
        try:
            return self.serializer.loads(raw)
        except MessageError as exc:
            records.discard(self, task_id, exc)
            return EMPTY

    def store_result(self, task_id: str, value: Any) -> None:
        self.storage.put_data(task_id, self.serializer.dumps(value))

    def record_error(self, metadata: dict[str, Any]) -> None:
        """Add a failure to the error store (when ``store_errors``)."""
        if self.store_errors:
            self.storage.put_error(json.dumps(metadata, default=str).encode())

    # -- locks --------------------------------------------------------------------------------
    def lock_task(self, lock_name: str, ttl: float | None = None) -> TaskLock:
        """A lock usable as decorator or context manager; a second holder gets
        TaskLockedException, which the consumer treats as 'skip', not as an error.
        With ``ttl`` (seconds) a holder that never releases it blocks no one longer."""
        self._locks.add(lock_name)
        return TaskLock(self, lock_name, ttl)

    def flush_locks(self, *names: str) -> set[str]:
        """Release every lock this process declared, and the locks ``names``; the names
        that were held."""
        held = self._locks.union(names)
        return {n for n in held if self.storage.pop_data(LOCK_PREFIX + n) is not None}

    # -- events ---------------------------------------------------------------------------------
    def emit(self, status: str, task: QueueTask | None = None, **fields: Any) -> None:
        """Publish an event (see huey.events) when events are on."""
        message = self._event(status, task, **fields)
        if message is not None:
            self.storage.emit(message)

    def _event(self, status: str, task: QueueTask | None = None, **fields: Any) -> str | None:
        """The JSON that :meth:`emit` publishes, or None when events are off."""
        if not self.events:
            return None
        event = {"status": status, "time": utcnow().isoformat(), "pid": os.getpid(), **fields}
        if task is not None:
            event.update(
                id=task.task_id,
                task=task.name,
                retries=task.retries,
                execute_time=task.execute_time.isoformat() if task.execute_time else None,
            )
        return _EVENT_JSON.encode(event)

    def events_stream(self) -> Iterator[dict[str, Any]]:
        """Events as dicts, from the moment of this call on (blocks between events)."""
        messages = iter(self.storage)  # subscribes now, not at the first next()
        return (event for event in map(records.json_object, messages) if event is not None)

    # -- inspection ---------------------------------------------------------------------------
    def pending(self, limit: int | None = None) -> list[QueueTask]:
        """Tasks waiting in the queue, next to run first (undecodable ones skipped)."""
        return self._decode_all(self.storage.enqueued_items(limit))

    def scheduled(self, limit: int | None = None) -> list[QueueTask]:
        """Tasks waiting for their execute time, earliest first."""
        return self._decode_all(self.storage.scheduled_items(limit))

    def _decode_all(self, items: list[bytes]) -> list[QueueTask]:
        tasks = []
        for data in items:
            with contextlib.suppress(Exception):
                tasks.append(self.deserialize_task(data))
        return tasks

    def pending_messages(self, limit: int | None = None, data: bool = False) -> list[Message]:
        """Queued messages, next to run first, as :class:`Message`: without ``data`` nothing
        is unpickled (ids, names, times only); with it, arguments are unpickled once the
        signature verifies. Undecodable ones are skipped. For inspection tools."""
        return read_all(self.storage.enqueued_items(limit), self.serializer, data)

    def scheduled_messages(self, limit: int | None = None, data: bool = False) -> list[Message]:
        """Scheduled messages, earliest first (see :meth:`pending_messages`)."""
        return read_all(self.storage.scheduled_items(limit), self.serializer, data)

    def all_results(self) -> dict[str, bytes]:
        """task id -> pickled result, for results not yet read (locks, revocations and
        scheduler records are left out)."""
        return {
            k: v
            for k, v in self.storage.result_items().items()
            if not k.startswith(RESERVED_PREFIX)
        }

    def errors(self, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Recorded failures, newest first, as dicts (entries that are not JSON objects
        are skipped)."""
        entries = map(records.json_object, self.storage.get_errors(limit, offset))
        return [entry for entry in entries if entry is not None]

    def flush(self) -> None:
        """Empty this instance's storage entirely."""
        self.storage.flush_all()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class RedisHuey(Huey):
    """Huey on Redis; storage kwargs go to redis-py (``url=``, ``host=``, ``port=``, ...)."""

    storage_class = RedisStorage


class SqliteHuey(Huey):
    """Huey on an SQLite file (``filename='huey.db'``); safe for several processes."""

    storage_class = SqliteStorage


class MemoryHuey(Huey):
    """Huey in this process's memory: for tests and eager development."""

    storage_class = MemoryStorage


# huey 3 apps import these from huey.api too; they subclass the classes above.
from .presets import (  # noqa: E402
    BlackHoleHuey,
    FileHuey,
    PriorityRedisExpireHuey,
    PriorityRedisHuey,
    RedisExpireHuey,
)
