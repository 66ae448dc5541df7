"""``huey_consumer path.to.module.huey [flags]``: run a consumer for a Huey object."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from huey.consumer.options import (
    ConsumerOptions,
    add_flags,
    huey3_argv,
    options_from_namespace,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huey_consumer",
        description="Run a consumer that executes the tasks of one Huey instance.",
    )
    parser.add_argument(
        "huey",
        metavar="MODULE.HUEY",
        help="import path of the Huey object, e.g. myapp.tasks.huey (or myapp.tasks:huey)",
    )
    add_flags(parser)
    return parser


def load_huey(path: str) -> object:
    """Import ``module.attr`` or ``module:attr``; SystemExit with one clear line if not."""
    module_name, sep, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attr:
        raise SystemExit(f"huey_consumer: {path!r} is not an import path like myapp.tasks.huey")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"huey_consumer: cannot import module {module_name!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SystemExit(f"huey_consumer: module {module_name!r} has no {attr!r}") from None


def configure_logging(options: ConsumerOptions) -> None:
    level = logging.DEBUG if options.verbose else logging.WARNING if options.quiet else logging.INFO
    log_to(logging.getLogger(), level, options.logfile, options.simple_log)


def log_to(logger: logging.Logger, level: int, logfile: str | None, simple_log: bool) -> None:
    """Send ``logger``'s records at ``level`` and above to ``logfile`` (else stderr), as
    the time and message only with ``simple_log``."""
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler()
    if simple_log:
        formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    else:
        formatter = logging.Formatter(
            "[%(asctime)s] %(levelname)s %(processName)s:%(threadName)s %(name)s: %(message)s"
        )
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(level)


def run_consumer(options: ConsumerOptions, load_app: Callable[[], object], what: str) -> int:
    """Start a consumer process: the one way, for huey_consumer and hueyctl's launcher.

    Greenlet workers need gevent's monkey patching before the application is imported
    (``load_app``), so its sockets and sleeps yield; then logging, then the consumer.
    """
    if options.worker_type == "greenlet":
        try:
            from gevent import monkey
        except ImportError:
            message = f"{what}: greenlet workers need gevent: pip install 'huey-ng[gevent]'"
            raise SystemExit(message) from None
        monkey.patch_all()
    from huey.api import Huey
    from huey.consumer import Consumer

    huey = load_app()
    if not isinstance(huey, Huey):
        raise SystemExit(f"{what}: the app is a {type(huey).__name__}, not a Huey")
    configure_logging(options)
    Consumer.from_options(huey, options).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(huey3_argv(sys.argv[1:] if argv is None else argv))
    return run_consumer(options_from_namespace(args), lambda: load_huey(args.huey), "huey_consumer")


if __name__ == "__main__":
    sys.exit(main())
