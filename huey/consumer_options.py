"""huey 3's way for a script to build a consumer from command-line options::

    options, args = OptionParserHandler().get_option_parser().parse_args()
    config = ConsumerConfig(**options.__dict__)
    config.validate()
    config.setup_logger()
    huey.create_consumer(**config.values).run()

The parser has huey_consumer's flags (one table, ``huey/consumer/options.py``); a flag
not given is None, so ConsumerConfig's defaults apply, and those are huey 3's: notably
``shutdown_timeout=None`` (wait for running tasks without a limit) and
``health_check_interval=10``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from typing import Any

from .bin.huey_consumer import log_to
from .consumer.options import NO_EFFECT, ConsumerOptions, add_flags, huey3_argv

__all__ = ["ConsumerConfig", "OptionParserHandler"]

#: Settings that configure logging, not the consumer (left out of ConsumerConfig.values).
LOGGING = frozenset({"logfile", "verbose", "quiet", "simple_log"})

#: huey 3's defaults where they differ from huey_consumer's.
HUEY3_DEFAULTS: dict[str, Any] = {
    "health_check_interval": 10.0,
    "shutdown_timeout": None,
    "verbose": None,  # None: INFO, True: DEBUG, False (huey 3's -q): WARNING
}

SCHEDULER_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)


class ConsumerConfig:
    """A consumer's settings as attributes (``config.workers``), from keyword arguments.

    A None value or an unknown key is ignored, as huey 3 ignores keys its config does
    not know: scripts pass their whole parsed options, their own flags included.
    """

    def __init__(self, **options: Any) -> None:
        settings = {**dataclasses.asdict(ConsumerOptions()), **NO_EFFECT, **HUEY3_DEFAULTS}
        given = {k: v for k, v in options.items() if k in settings and v is not None}
        self.__dict__.update(settings, **given)

    def __repr__(self) -> str:
        return f"ConsumerConfig({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    @property
    def values(self) -> dict[str, Any]:
        """The keyword arguments for ``huey.create_consumer``/``Consumer``."""
        return {k: v for k, v in vars(self).items() if k not in LOGGING}

    def validate(self) -> None:
        """ValueError for a setting huey 3 refuses, though some have no effect here."""
        if self.backoff < 1:
            raise ValueError(f"backoff must be at least 1, not {self.backoff}")
        if self.scheduler_interval not in SCHEDULER_INTERVALS:
            raise ValueError(
                f"scheduler_interval must divide 60 (one of {SCHEDULER_INTERVALS}), "
                f"not {self.scheduler_interval}"
            )
        if self.graceful_signal not in ("INT", "TERM"):
            raise ValueError(f"graceful_signal must be INT or TERM, not {self.graceful_signal!r}")

    @property
    def loglevel(self) -> int:
        if self.verbose:
            return logging.DEBUG
        return logging.WARNING if self.quiet or self.verbose is False else logging.INFO

    def setup_logger(self, logger: logging.Logger | None = None) -> None:
        """Log ``logger``'s records (default: the root logger's) as huey_consumer does."""
        log_to(logger or logging.getLogger(), self.loglevel, self.logfile, self.simple_log)


class OptionParser(argparse.ArgumentParser):
    """huey_consumer's flags, parsed the optparse way huey 3's scripts expect:
    ``parse_args(argv)`` returns ``(options, positional arguments)``."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = huey3_argv(sys.argv[1:] if args is None else args)
        options = super().parse_args(argv, namespace)
        return options, vars(options).pop("args")


class OptionParserHandler:
    """Makes the parser for huey_consumer's flags (huey 3's name)."""

    def get_option_parser(self) -> OptionParser:
        parser = OptionParser(usage="%(prog)s [options] path.to.huey_instance")
        parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        add_flags(parser, defaults=False)
        return parser
