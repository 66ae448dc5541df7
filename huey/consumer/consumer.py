"""The consumer: starts workers, the scheduler and heartbeats; acts on signals;
replaces dead or stuck workers and dead service threads; on stop, gives running tasks
time and requeues the rest. Storage faults are waited out, never fatal."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import signal
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, QueueException
from ..metrics import record_key
from .backoff import Backoff
from .counters import Publisher, Tally
from .environment import Environment, Handle, environment
from .options import NO_EFFECT, ConsumerOptions, lock_names
from .recovery import Recovery
from .scheduler import Scheduler
from .worker import Pulse, Worker

if TYPE_CHECKING:
    from ..api import Huey

logger = logging.getLogger("huey.consumer")

OPTION_NAMES = frozenset(field.name for field in dataclasses.fields(ConsumerOptions))


class Consumer:
    """Executes the tasks of one Huey instance.

    ``run()`` blocks until stopped (SIGINT/SIGTERM: graceful; a second one: at once;
    SIGHUP: restart workers). ``start()``/``stop()`` embed a consumer in a program or
    a test. Every option is a :class:`ConsumerOptions` field, or one of huey 3's that
    have no effect here (:data:`NO_EFFECT`); each reads back as an attribute
    (``consumer.workers``), as on huey 3's consumer.
    """

    def __init__(self, huey: Huey, **options: Any) -> None:
        self.huey = huey
        if not huey.utc:  # a huey 3 app's Huey(utc=False): its times are local
            options["utc"] = False
        if isinstance(options.get("extra_locks"), str):  # huey 3 writes them comma-separated
            options["extra_locks"] = lock_names(options["extra_locks"])
        self.no_effect = {name: options.pop(name, value) for name, value in NO_EFFECT.items()}
        self.options = ConsumerOptions(**options)
        if self.options.max_tasks and not self.options.check_worker_health:
            raise ConfigurationError("--max-tasks needs the health check, which replaces workers")
        self.environment: Environment = environment(self.options.worker_type)
        self.consumer_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._threads_stop = threading.Event()
        self._workers: dict[str, tuple[Handle, Any, Pulse]] = {}
        self._worker_numbers = itertools.count()  # ids are never reused (see check_workers)
        self._services: dict[str, tuple[Any, threading.Thread]] = {}  # name -> target, thread
        self._stop_requested = 0  # stop signals received
        self._stop_called = False  # stop() was called since the last start()
        self._lifecycle = threading.Lock()  # start and stop one at a time
        self._restart_requested = False
        self._running = False
        self.tally = Tally((), self.environment.cells)

    def __getattr__(self, name: str) -> Any:
        """An option's value: huey 3 apps and tools read ``consumer.workers`` and the like."""
        options, no_effect = self.__dict__.get("options"), self.__dict__.get("no_effect", {})
        if options is not None and name in OPTION_NAMES:
            return getattr(options, name)
        if name in no_effect:
            return no_effect[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def from_options(cls, huey: Huey, options: ConsumerOptions) -> Consumer:
        return cls(huey, **dataclasses.asdict(options))

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start workers, scheduler and heartbeats in the background; return at once, or
        once the storage answers: an unreachable storage is retried with backoff (until
        a stop signal), so a consumer started during an outage waits instead of exiting."""
        if self.huey.immediate:
            raise ConfigurationError(
                f"{self.huey.name!r} is in immediate mode: its tasks run as they are enqueued "
                "and there is nothing to consume; turn immediate off to start a consumer"
            )
        opts = self.options
        logger.info(
            "consumer %s for %r: %d %s worker(s), periodic %s, global scheduler %s, %s",
            self.consumer_id,
            self.huey.name,
            opts.workers,
            opts.worker_type,
            "on" if opts.periodic else "off",
            "on" if opts.global_scheduler else "off",
            "UTC" if opts.utc else "local time",
        )
        self._stop_called = False
        self.tally = Tally(self.huey.task_names(), self.environment.cells)
        publisher = Publisher(self.consumer_id, self.tally, opts.workers, opts.worker_type)
        recovery = Recovery(
            self.huey,
            lambda: list(self._workers),
            self._threads_stop,
            opts.heartbeat_timeout,
            publisher,
        )
        if self._reach_storage(recovery):
            self._launch(recovery)

    def _launch(self, recovery: Recovery) -> None:
        """Start workers, scheduler and heartbeats, unless stop() came first."""
        opts = self.options
        with self._lifecycle:
            if self._stop_called:
                return
            self._threads_stop.clear()
            self._start_workers()
            scheduler = Scheduler(
                self.huey,
                self.consumer_id,
                self._threads_stop,
                opts.utc,
                opts.periodic,
                opts.global_scheduler,
                counters=self.tally.writer("scheduler"),
            )
            self._services = {
                name: (target, self._thread(target, name))
                for name, target in (
                    ("huey-scheduler", scheduler.loop),
                    ("huey-heartbeat", recovery.loop),
                )
            }
            self._running = True

    def _reach_storage(self, recovery: Recovery) -> bool:
        """Release locks if asked and requeue the work of dead consumers, retrying with
        backoff while that fails; False if a stop signal came first. (Workers register
        their heartbeat with their first fetch.)"""
        backoff = Backoff()
        while self._stop_requested == 0 and not self._stop_called:
            try:
                if self.options.flush_locks or self.options.extra_locks:
                    released = self.huey.flush_locks(*self.options.extra_locks)
                    logger.info("released locks: %s", ", ".join(sorted(released)) or "none")
                recovery.step(time.time())
            except Exception as exc:  # any error: logged once, retried with backoff
                backoff.failed("consumer start", exc, self._pause)
            else:
                backoff.succeeded("consumer start")
                return True
        return False

    def run(self) -> None:
        """Start, then supervise until stopped by a signal or :meth:`stop`; an error while
        supervising is logged once and retried with backoff."""
        if threading.current_thread() is threading.main_thread():
            self._install_signal_handlers()
        self.start()
        backoff = Backoff()
        next_check = time.monotonic() + self.options.health_check_interval
        try:
            while self._stop_requested == 0 and not self._stop_called:
                time.sleep(0.1)
                check_health = time.monotonic() >= next_check
                if check_health:
                    next_check = time.monotonic() + self.options.health_check_interval
                try:
                    self.supervise(check_health)
                    backoff.succeeded("consumer")
                except Exception as exc:  # any error: logged once, retried with backoff
                    backoff.failed("consumer", exc, self._pause)
        finally:
            self.stop(graceful=True)

    def supervise(self, check_health: bool = True) -> None:
        """One pass of the supervising loop: act on SIGHUP, restart a dead service thread
        and, with ``check_health`` (and the health check on), replace dead or stuck workers."""
        with self._lifecycle:  # a stop() from another thread waits for this pass
            if not self._running:
                return
            if self._restart_requested:
                self._restart_requested = False
                logger.info("SIGHUP: restarting workers")
                self._stop_workers(self.options.shutdown_timeout)
                self._start_workers()
            self.check_services()
            if check_health and self.options.check_worker_health:
                self.check_workers(time.time())

    def stop(self, graceful: bool = True) -> None:
        """Stop taking tasks; give running ones ``shutdown_timeout`` seconds (None: as
        long as they take) when graceful, and put whatever did not finish back on the queue."""
        self._stop_called = True  # ends run() and a start() still reaching the storage
        with self._lifecycle:
            if self._running:
                self._running = False
                self._shut_down(graceful)

    def _shut_down(self, graceful: bool) -> None:
        logger.info("stopping consumer %s%s", self.consumer_id, "" if graceful else " now")
        self._stop_workers(self.options.shutdown_timeout if graceful else 0)
        self._threads_stop.set()
        for _, thread in self._services.values():
            thread.join(2)
        try:
            self.huey.storage.pop_data(record_key(self.consumer_id))
        except QueueException as exc:  # consumers that see our heartbeat stop remove it
            logger.warning("could not remove this consumer's metrics record: %s", exc)
        logger.info("consumer %s stopped", self.consumer_id)

    def check_workers(self, now: float) -> None:
        """The health check at ``now`` (epoch seconds): replace workers that died, and
        those silent for ``stuck_timeout`` outside a task (a storage call that never
        returns, a stopped process). What they held goes back on the queue."""
        for worker_id, (handle, stop, pulse) in list(self._workers.items()):
            if not self._running:
                return
            if handle.is_alive():
                if not pulse.stale(now, self.options.stuck_timeout):
                    continue
                logger.error("worker %s is stuck outside a task; replacing it", worker_id)
                stop.set()
                self.environment.kill(handle)
                if handle.is_alive():
                    # A thread cannot be killed: it keeps its id, whose heartbeat stops
                    # now, so what it holds is requeued once that heartbeat expires.
                    del self._workers[worker_id]
                    self._spawn_worker(self._new_worker_id())
                    continue
            elif pulse.retired:
                logger.info("worker %s ran its --max-tasks; replacing it", worker_id)
            else:
                logger.error("worker %s died; requeueing its task and replacing it", worker_id)
            self.huey.storage.requeue(worker_id)
            self._spawn_worker(worker_id)

    def check_services(self) -> None:
        """Restart the scheduler or heartbeat thread if it died (their loops survive any
        Exception, so only something like a BaseException from a hook gets here)."""
        for name, (target, thread) in list(self._services.items()):
            if not thread.is_alive() and self._running:
                logger.error("service thread %s died; restarting it", name)
                self._services[name] = (target, self._thread(target, name))

    # -- workers ------------------------------------------------------------------------
    def _start_workers(self) -> None:
        for _ in range(self.options.workers):
            self._spawn_worker(self._new_worker_id())

    def _new_worker_id(self) -> str:
        return f"{self.consumer_id}:{next(self._worker_numbers)}"

    def _spawn_worker(self, worker_id: str) -> None:
        stop = self.environment.event()
        counters = self.tally.writer(worker_id)
        worker = Worker(
            self.huey,
            worker_id,
            stop,
            self.options.utc,
            counters=counters,
            max_tasks=self.options.max_tasks,
        )
        handle = self.environment.spawn(worker.loop, worker_id)
        self._workers[worker_id] = (handle, stop, worker.pulse)

    def _stop_workers(self, timeout: float | None) -> None:
        """Flag every worker, wait up to ``timeout`` (None: until they finish, or a second
        stop signal), requeue what is still in flight."""
        for _, stop, _ in self._workers.values():
            stop.set()
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        for handle, _, _ in self._workers.values():
            while handle.is_alive() and self._stop_requested < 2:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                handle.join(min(remaining, 0.1))
        for worker_id, (handle, _, _) in self._workers.items():
            if handle.is_alive():
                logger.warning("worker %s still busy at stop; what it holds is requeued", worker_id)
                self.environment.kill(handle)
            try:
                moved = self.huey.storage.requeue(worker_id)
            except QueueException as exc:  # its heartbeat expires, then another consumer does
                logger.warning("could not requeue the tasks of %s: %s", worker_id, exc)
                continue
            if moved:
                logger.info("requeued %d unfinished task(s) of %s", moved, worker_id)
        self._workers.clear()

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short by a stop signal."""
        deadline = time.monotonic() + seconds
        while (
            self._stop_requested == 0
            and not self._stop_called
            and (left := deadline - time.monotonic()) > 0
        ):
            time.sleep(min(left, 0.1))

    def _thread(self, target: Any, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    # -- signals: handlers only set flags ---------------------------------------------------
    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        self._stop_requested += 1

    def _on_hup(self, signum: int, frame: Any) -> None:
        self._restart_requested = True
