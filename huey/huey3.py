"""The huey 3 spellings of Huey's API, offered beside the spec's (see docs/huey3.md):
counting and inspection, the key/value store, signals, worker start/stop hooks,
immediate mode and ``create_consumer``. Mixed into :class:`huey.api.Huey`."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .execution import execute
from .rate_limit import RateLimit
from .result import EMPTY
from .signals import SIGNAL_ENQUEUED, SIGNAL_SCHEDULED, Receiver, Signals
from .storage import BaseStorage, MemoryStorage
from .task import QueueTask, utcnow
from .wrapper import TaskWrapper

if TYPE_CHECKING:
    from .consumer import Consumer
    from .serializer import Serializer


#: huey 3 options that change nothing here (see docs/huey3.md for why).
NO_EFFECT_OPTIONS = (
    "notify_result",
    "clean_name",
    "use_zlib",
    "journal_mode",
)


class Huey3API:
    """Methods huey 3 apps call; each is a thin spelling of something the spec's API does."""

    # Set by Huey.__init__; declared here for readers and type checkers.
    name: str
    utc: bool
    signals: Signals
    _storage: BaseStorage | None
    _startup: dict[str, Callable[[], Any]]
    _shutdown: dict[str, Callable[[], Any]]
    immediate_use_memory = True  # immediate mode runs on a private in-memory storage
    _immediate = False
    _swapped = False  # the live storage is set aside in _stored_storage
    _stored_storage: BaseStorage | None = None
    _draining = False  # immediate mode is running queued tasks

    # -- immediate mode -------------------------------------------------------------------
    @property
    def immediate(self) -> bool:
        """True while tasks run as they are enqueued (on a private in-memory storage
        unless ``immediate_use_memory`` is False)."""
        return self._immediate

    @immediate.setter
    def immediate(self, value: bool) -> None:
        if bool(value) == self._immediate:
            return
        self._immediate = bool(value)
        if self._immediate and self.immediate_use_memory:
            # The live storage (None when not created yet) waits untouched.
            self._stored_storage, self._storage = self._storage, self.get_immediate_storage()
            self._swapped = True
        elif not self._immediate and self._swapped:
            self._storage, self._stored_storage = self._stored_storage, None
            self._swapped = False

    def get_immediate_storage(self) -> BaseStorage:
        """The storage immediate mode uses: a new, empty in-memory one each time it starts."""
        return MemoryStorage(self.name)

    def _announce(self, task: QueueTask, scheduled: bool) -> None:
        """Send huey 3's enqueued (and, when it went to the schedule, scheduled) signal."""
        self.signals.send(SIGNAL_ENQUEUED, task)
        if scheduled:
            self.signals.send(SIGNAL_SCHEDULED, task)

    def _run_queued(self) -> None:
        """Immediate mode: run what is queued, as a worker would, until the queue is empty
        (tasks a task enqueues run in this loop, not inside the task's storage batch)."""
        if self._draining:
            return
        self._draining = True
        try:
            while (task := self.dequeue()) is not None:
                execute(self, task, now=self._now())
        finally:
            self._draining = False

    # -- counting and inspection ------------------------------------------------------------
    def __len__(self) -> int:
        return self.pending_count()

    def __bool__(self) -> bool:
        return True  # an instance with an empty queue is still an instance (``if huey:``)

    def pending_count(self) -> int:
        """Tasks waiting in the queue."""
        return self.storage.queue_size()

    def scheduled_count(self) -> int:
        """Tasks waiting for their execute time."""
        return self.storage.schedule_size()

    def result_count(self) -> int:
        """Stored results not yet read (what :meth:`all_results` lists)."""
        return len(self.all_results())

    def dequeue(self) -> QueueTask | None:
        """Take the next task off the queue without running it (None when empty); a
        message this process cannot decode raises MessageError carrying its bytes."""
        data = self.storage.dequeue()
        return None if data is None else self.deserialize_task(data)

    def read_schedule(self, timestamp: datetime.datetime | None = None) -> list[QueueTask]:
        """Remove and return the scheduled tasks due at ``timestamp`` (default: now)."""
        due = self.storage.read_schedule(timestamp or self._now())
        return self._decode_all(due)

    def read_periodic(self, timestamp: datetime.datetime) -> list[QueueTask]:
        """A new task for every periodic task due at ``timestamp`` (not enqueued)."""
        return [cls() for cls in self.periodic_tasks() if cls.is_due(timestamp)]

    def ready_to_run(self, task: QueueTask, timestamp: datetime.datetime | None = None) -> bool:
        """True when ``task`` has no execute time or it is due at ``timestamp`` (default now)."""
        return task.execute_time is None or task.execute_time <= (timestamp or self._now())

    def _now(self) -> datetime.datetime:
        return utcnow() if self.utc else datetime.datetime.now()

    # -- key/value store ----------------------------------------------------------------------
    def put(self, key: str, data: Any) -> bool:
        """Store any picklable value under ``key`` (in the result store)."""
        self.storage.put_data(key, self.serializer.dumps(data))
        return True

    def put_if_empty(self, key: str, data: Any, ttl: float | None = None) -> bool:
        """:meth:`put` only when ``key`` holds nothing; True if stored. ``ttl``: seconds
        until it expires, where the storage supports it (``BaseStorage.put_if_empty``)."""
        return self.storage.put_if_empty(key, self.serializer.dumps(data), ttl)

    def get(self, key: str, peek: bool = False) -> Any:
        """The value under ``key`` (None when absent), removed unless ``peek``; read as
        results are, so a value that fails to verify or unpickle is absent too."""
        value = self.read_result(key, preserve=peek)
        return None if value is EMPTY else value

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it held a value."""
        return self.storage.pop_data(key) is not None

    def is_locked(self, lock_name: str) -> bool:
        """True while a ``lock_task(lock_name)`` lock is held."""
        return self.lock_task(lock_name).is_locked()

    def rate_limit(self, name: str, limit: int, per: float, retry: bool = True) -> RateLimit:
        """At most ``limit`` calls per ``per`` seconds, shared by every worker; a decorator
        (inside ``@huey.task()``) or context manager. A limited task runs again in the next
        window (or after its ``retry_delay``) when ``retry`` is set or it has retries left,
        else it fails with RateLimitExceeded."""
        return RateLimit(self, name, limit, per, retry)

    # -- tasks ---------------------------------------------------------------------------------
    def context_task(
        self, obj: Any, as_argument: bool = False, **task_options: Any
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator: a task that runs inside ``with obj:``; with ``as_argument`` the
        value ``obj`` gives is passed first (e.g. a database connection)."""

        def decorator(func: Callable[..., Any]) -> TaskWrapper:
            @functools.wraps(func)
            def inside(*args: Any, **kwargs: Any) -> Any:
                with obj as value:
                    return func(value, *args, **kwargs) if as_argument else func(*args, **kwargs)

            return self.task(**task_options)(inside)

        return decorator

    def unregister(self, task_class: type[QueueTask]) -> bool:
        """Forget a task class (messages naming it are then refused); True if it was known."""
        return self._registry.pop(task_class.name, None) is not None

    # -- signals ------------------------------------------------------------------------------
    def signal(self, *signals: str) -> Callable[[Receiver], Receiver]:
        """Decorator: call the function as ``fn(signal, task, *extra)`` on the named
        signals (every signal when none is named); see :mod:`huey.signals`."""

        def decorator(receiver: Receiver) -> Receiver:
            self.signals.connect(receiver, *signals)
            return receiver

        return decorator

    def disconnect_signal(self, receiver: Receiver, *signals: str) -> None:
        self.signals.disconnect(receiver, *signals)

    # -- worker hooks and consumer ------------------------------------------------------------
    def on_startup(self, name: str | None = None) -> Callable[[Callable[[], Any]], Callable]:
        """Decorator: run the function in each worker as it starts (e.g. open a connection)."""

        def decorator(fn: Callable[[], Any]) -> Callable[[], Any]:
            self._startup[name or fn.__name__] = fn
            return fn

        return decorator

    def on_shutdown(self, name: str | None = None) -> Callable[[Callable[[], Any]], Callable]:
        """Decorator: run the function in each worker as it stops."""

        def decorator(fn: Callable[[], Any]) -> Callable[[], Any]:
            self._shutdown[name or fn.__name__] = fn
            return fn

        return decorator

    def unregister_on_startup(self, name: str) -> bool:
        return self._startup.pop(name, None) is not None

    def unregister_on_shutdown(self, name: str) -> bool:
        return self._shutdown.pop(name, None) is not None

    def startup_hooks(self) -> list[Callable[[], Any]]:
        return list(self._startup.values())

    def shutdown_hooks(self) -> list[Callable[[], Any]]:
        return list(self._shutdown.values())

    def create_consumer(self, **options: Any) -> Consumer:
        """A consumer for this instance (not started); options as huey_consumer's flags."""
        from .consumer import Consumer  # the consumer imports the api, not the reverse

        return Consumer(self, **options)

    # Provided by Huey; listed so the mixin reads on its own.
    storage: BaseStorage
    serializer: Serializer
    deserialize_task: Callable[[bytes], QueueTask]
    _decode_all: Callable[[list[bytes]], list[QueueTask]]
    periodic_tasks: Callable[[], list]
    all_results: Callable[[], dict]
    lock_task: Callable[[str], Any]
    task: Callable[..., Callable[[Callable[..., Any]], TaskWrapper]]
    _registry: dict[str, type[QueueTask]]
