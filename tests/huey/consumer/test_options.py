"""The consumer's flags: huey 3's spellings beside the spec's, and where they clash."""

from __future__ import annotations

import logging
import re

import pytest

from huey.bin.huey_consumer import build_parser, configure_logging
from huey.consumer.options import ConsumerOptions, huey3_argv, options_from_namespace


def parse(*argv: str) -> ConsumerOptions:
    return options_from_namespace(build_parser().parse_args(huey3_argv(["app.huey", *argv])))


def test_huey3_flags_with_their_meanings() -> None:
    options = parse("-w", "3", "-k", "process", "-n", "-t", "5", "-L", "a, b,", "-S", "-q")
    assert (options.workers, options.worker_type, options.periodic) == (3, "process", False)
    assert (options.shutdown_timeout, options.extra_locks) == (5.0, ("a", "b"))
    assert options.simple_log and options.quiet
    assert parse("-u").utc and not parse("-o").utc
    assert parse("-f").flush_locks and parse("-l", "x.log", "-v").verbose
    assert parse("-M", "100").max_tasks == 100


@pytest.mark.parametrize("signal_name", ["TERM", "INT"])
def test_huey3_graceful_signal_keeps_the_global_scheduler(signal_name: str) -> None:
    # huey 3's -g names the graceful signal; both signals are graceful here already.
    assert parse("-g", signal_name).global_scheduler
    assert parse("--graceful-signal", signal_name).global_scheduler


def test_bare_g_keeps_the_spec_meaning() -> None:
    assert not parse("-g").global_scheduler
    assert not parse("-g", "-w", "2").global_scheduler


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--graceful-signal", "KILL"), "invalid choice: 'KILL'"),
        (("-M", "0"), "'0' is not a whole number of at least 1"),
    ],
)
def test_bad_values_are_refused(capsys, argv, message) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err


def test_simple_log_is_time_and_message(tmp_path) -> None:
    path = tmp_path / "consumer.log"
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging(ConsumerOptions(logfile=str(path), simple_log=True))
        logging.getLogger("huey.consumer").info("hello")
    finally:
        for handler in root.handlers[len(before[0]) :]:
            handler.close()
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    assert re.fullmatch(r"\d\d:\d\d:\d\d hello\n", path.read_text())
