"""The consumer's options: one table that the ``huey_consumer`` command line and
hueyctl both read, so a flag is defined exactly once."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

WORKER_TYPES = ("thread", "process", "greenlet")


@dataclass(frozen=True)
class ConsumerOptions:
    """How one consumer runs; defaults are the spec's."""

    workers: int = 1
    worker_type: str = "thread"
    periodic: bool = True
    global_scheduler: bool = True
    utc: bool = True
    shutdown_timeout: float | None = 30.0  # None: wait for running tasks without a limit
    heartbeat_timeout: float = 30.0
    check_worker_health: bool = True
    health_check_interval: float = 1.0
    stuck_timeout: float = 60.0
    max_tasks: int | None = None
    flush_locks: bool = False
    extra_locks: tuple[str, ...] = ()
    logfile: str | None = None
    verbose: bool = False
    quiet: bool = False
    simple_log: bool = False


#: huey 3's consumer options that are accepted with no effect here, with huey 3's defaults:
#: workers block on the queue instead of polling it (initial_delay, backoff, max_delay),
#: the scheduler sleeps until the next due time (scheduler_interval), and SIGINT and
#: SIGTERM both stop gracefully (graceful_signal).
NO_EFFECT: dict[str, object] = {
    "initial_delay": 0.1,
    "backoff": 1.15,
    "max_delay": 10.0,
    "scheduler_interval": 1,
    "graceful_signal": "INT",
}


@dataclass(frozen=True)
class Flag:
    """One command-line flag bound to a ConsumerOptions field."""

    field: str  # a ConsumerOptions field, or the name a flag without effect is parsed to
    names: tuple[str, ...]
    help: str
    action: str = "store"  # "store", "store_true" or "store_false"
    type: Callable[[str], object] | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None


def positive(text: str) -> float:
    """A number of seconds greater than zero, for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


_BLOCKING = "workers wait on the queue instead of polling it"
_PRECISE = "the scheduler sleeps until the next due time"


def at_least_one(text: str) -> int:
    """A whole number of 1 or more, for argparse."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def lock_names(text: str) -> tuple[str, ...]:
    """``a,b`` -> ("a", "b"): huey 3's comma-separated --extra-locks, for argparse."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


GRACEFUL_SIGNALS = ("INT", "TERM")

FLAGS: tuple[Flag, ...] = (
    Flag(
        "workers",
        ("-w", "--workers"),
        "number of worker threads/processes/greenlets",
        type=int,
        metavar="N",
    ),
    Flag("worker_type", ("-k", "--worker-type"), "kind of worker", choices=WORKER_TYPES),
    Flag(
        "periodic",
        ("-n", "--no-periodic"),
        "do not enqueue periodic tasks from this consumer",
        action="store_false",
    ),
    Flag(
        "global_scheduler",
        ("-g", "--no-global-scheduler"),
        "enqueue periodic tasks from every consumer, not once per instance",
        action="store_false",
    ),
    Flag(
        "utc",
        ("-o", "--localtime"),
        "run periodic tasks and ETAs in local time instead of UTC",
        action="store_false",
    ),
    Flag(
        "shutdown_timeout",
        ("-t", "--shutdown-timeout"),
        "seconds running tasks get to finish after SIGINT/SIGTERM",
        type=float,
        metavar="SECONDS",
    ),
    Flag(
        "heartbeat_timeout",
        ("--heartbeat-timeout",),
        "seconds without a heartbeat before a consumer's in-flight tasks are requeued",
        type=float,
        metavar="SECONDS",
    ),
    Flag(
        "health_check_interval",
        ("-c", "--health-check-interval"),
        "seconds between checks that replace dead workers and workers stuck outside a task",
        type=positive,
        metavar="SECONDS",
    ),
    Flag(
        "check_worker_health",
        ("-C", "--disable-health-check"),
        "never replace dead or stuck workers",
        action="store_false",
    ),
    Flag(
        "max_tasks",
        ("-M", "--max-tasks"),
        "replace a worker once it has run this many tasks (needs the health check)",
        type=at_least_one,
        metavar="N",
    ),
    Flag(
        "stuck_timeout",
        ("--stuck-timeout",),
        "a worker whose loop is silent this long outside a task is stuck and replaced",
        type=positive,
        metavar="SECONDS",
    ),
    *(
        Flag(
            field, names, f"accepted for huey 1.x scripts; no effect: {why}", type=float, metavar=m
        )
        for field, names, m, why in (
            ("initial_delay", ("-d", "--delay"), "SECONDS", _BLOCKING),
            ("max_delay", ("-m", "--max-delay"), "SECONDS", _BLOCKING),
            ("backoff", ("-b", "--backoff"), "FACTOR", _BLOCKING),
            ("scheduler_interval", ("-s", "--scheduler-interval"), "SECONDS", _PRECISE),
        )
    ),
    Flag(
        "flush_locks",
        ("-f", "--flush-locks"),
        "release every lock_task lock at startup",
        action="store_true",
    ),
    Flag(
        "extra_locks",
        ("-L", "--extra-locks"),
        "also release these locks at startup (comma-separated); implies --flush-locks",
        type=lock_names,
        metavar="NAMES",
    ),
    Flag(
        "graceful_signal",
        ("--graceful-signal",),
        "accepted for huey 3 scripts; no effect: SIGINT and SIGTERM both stop gracefully",
        choices=GRACEFUL_SIGNALS,
    ),
    Flag("logfile", ("-l", "--logfile"), "append logs to this file", metavar="FILE"),
    Flag("verbose", ("-v", "--verbose"), "log at DEBUG level", action="store_true"),
    Flag("quiet", ("-q", "--quiet"), "log warnings and errors only", action="store_true"),
    Flag(
        "simple_log",
        ("-S", "--simple"),
        "log only the time (H:M:S) and the message",
        action="store_true",
    ),
)


def add_flags(
    parser: argparse.ArgumentParser,
    renamed: Mapping[str, tuple[str, ...]] | None = None,
    defaults: bool = True,
) -> None:
    """Add every consumer flag to ``parser`` with ConsumerOptions' defaults (or None for
    a flag not given, without ``defaults``); ``renamed`` gives a field other flag names,
    where a host command (Django's) owns the usual ones."""
    values = ConsumerOptions() if defaults else None
    renamed = renamed or {}
    for flag in FLAGS:
        kwargs: dict = {
            "dest": flag.field,
            "help": flag.help,
            "action": flag.action,
            "default": getattr(values, flag.field, None),
        }
        if flag.action == "store":
            kwargs.update(type=flag.type, choices=flag.choices, metavar=flag.metavar)
        parser.add_argument(*renamed.get(flag.field, flag.names), **kwargs)
    # -u/--utc is the default; accepted so scripts written for huey keep working.
    parser.add_argument(
        "-u",
        "--utc",
        dest="utc",
        action="store_true",
        default=getattr(values, "utc", None),
        help="run in UTC (the default)",
    )


def huey3_argv(argv: Sequence[str]) -> list[str]:
    """huey 3's ``-g TERM``/``-g INT`` (its graceful signal) as ``--graceful-signal``; a
    bare ``-g`` keeps the spec's meaning, --no-global-scheduler."""
    args = list(argv)
    for i, arg in enumerate(args[:-1]):
        if arg == "-g" and args[i + 1] in GRACEFUL_SIGNALS:
            args[i] = "--graceful-signal"
    return args


def options_from_namespace(namespace: argparse.Namespace) -> ConsumerOptions:
    """Build ConsumerOptions from parsed flags."""
    names = {f.name for f in dataclasses.fields(ConsumerOptions)}
    return ConsumerOptions(**{k: v for k, v in vars(namespace).items() if k in names})
