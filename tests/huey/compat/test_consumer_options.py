"""huey 3's consumer API: Consumer's keyword options (read back as attributes),
ConsumerConfig and OptionParserHandler (how scripts build a consumer from flags), and
shutdown_timeout=None."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from huey import Huey
from huey.consumer import Consumer
from huey.consumer_options import ConsumerConfig, OptionParserHandler
from huey.exceptions import ConfigurationError

WAIT = 30.0
APPS = Path(__file__).parents[1] / "consumer" / "apps"


def test_huey3_constructor_options_are_accepted_and_read_back(huey) -> None:
    @huey.task()
    def add(a, b):
        return a + b

    consumer = Consumer(
        huey,
        workers=2,
        initial_delay=0.001,
        backoff=2,
        max_delay=0.001,
        scheduler_interval=30,
        check_worker_health=False,
        health_check_interval=5,
        extra_locks="a, b",
        graceful_signal="TERM",
        heartbeat_timeout=3,
    )
    assert (consumer.workers, consumer.worker_type, consumer.periodic) == (2, "thread", True)
    assert (consumer.backoff, consumer.scheduler_interval, consumer.graceful_signal) == (
        2,
        30,
        "TERM",
    )
    assert consumer.extra_locks == ("a", "b")  # huey 3 writes them comma-separated
    assert consumer.shutdown_timeout == 30.0  # this consumer's own default
    with pytest.raises(AttributeError):
        consumer.no_such_option  # noqa: B018
    consumer.start()
    try:
        assert add(1, 2).get(blocking=True, timeout=WAIT) == 3
    finally:
        consumer.stop(graceful=True)


def test_consumer_config_has_huey3_defaults_and_builds_a_consumer() -> None:
    huey = Huey("cfg", url="memory://")
    config = ConsumerConfig()
    config.validate()
    assert (config.workers, config.worker_type, config.initial_delay, config.backoff) == (
        1,
        "thread",
        0.1,
        1.15,
    )
    consumer = huey.create_consumer(**config.values)
    assert consumer.shutdown_timeout is None and consumer.graceful_signal == "INT"
    assert consumer.health_check_interval == 10
    assert "logfile" not in config.values and "verbose" not in config.values

    config = ConsumerConfig(workers=3, worker_type="process", periodic=False, shutdown_timeout=5)
    consumer = huey.create_consumer(**config.values)
    assert (consumer.workers, consumer.worker_type, consumer.periodic) == (3, "process", False)
    assert consumer.shutdown_timeout == 5


def test_consumer_config_ignores_none_and_keys_it_does_not_know() -> None:
    # Scripts pass their whole parsed options, their own flags included.
    config = ConsumerConfig(workers=None, my_app_flag=True, max_tasks=None)
    assert config.workers == 1 and not hasattr(config, "my_app_flag")


@pytest.mark.parametrize(
    "options",
    [
        {"backoff": 0.5},
        {"scheduler_interval": 90},
        {"scheduler_interval": 7},
        {"scheduler_interval": 45},
        {"graceful_signal": "HUP"},
    ],
)
def test_consumer_config_validate_refuses_what_huey3_refuses(options) -> None:
    with pytest.raises(ValueError):
        ConsumerConfig(**options).validate()


def test_option_parser_handler_parses_huey_consumer_flags_the_optparse_way() -> None:
    parser = OptionParserHandler().get_option_parser()
    options, args = parser.parse_args(
        ["-t", "2.5", "--graceful-signal=TERM", "app.huey", "-w", "4"]
    )
    assert args == ["app.huey"]
    assert (options.shutdown_timeout, options.graceful_signal, options.workers) == (2.5, "TERM", 4)
    assert options.periodic is None  # not given: ConsumerConfig's default applies
    options, _ = parser.parse_args(["-g", "TERM", "-n", "-k", "greenlet", "app.huey"])
    config = ConsumerConfig(**vars(options))
    assert (config.graceful_signal, config.periodic, config.worker_type) == (
        "TERM",
        False,
        "greenlet",
    )
    assert config.shutdown_timeout is None and config.global_scheduler


@pytest.mark.parametrize(
    ("argv", "level"),
    [([], logging.INFO), (["-v"], logging.DEBUG), (["-q"], logging.WARNING)],
)
def test_consumer_config_sets_up_a_logger(tmp_path, argv, level) -> None:
    options, _ = (
        OptionParserHandler()
        .get_option_parser()
        .parse_args([*argv, "-l", str(tmp_path / "c.log"), "app.huey"])
    )
    config = ConsumerConfig(**vars(options))
    logger = logging.getLogger(f"test-huey3-config-{level}")
    config.setup_logger(logger)
    try:
        logger.warning("hello")
        assert logger.level == level
        assert "hello" in (tmp_path / "c.log").read_text()
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers.clear()


@pytest.mark.slow
def test_shutdown_timeout_none_waits_for_the_running_task(huey) -> None:
    started, release = threading.Event(), threading.Event()

    @huey.task()
    def slow():
        started.set()
        release.wait(WAIT)
        return "done"

    result = slow()
    consumer = huey.create_consumer(shutdown_timeout=None, heartbeat_timeout=3)
    consumer.start()
    assert started.wait(WAIT)
    threading.Timer(1.0, release.set).start()  # stop() waits for it, however long
    consumer.stop(graceful=True)
    assert result.get() == "done"
    assert huey.pending_count() == 0


def test_start_refuses_a_huey_in_immediate_mode() -> None:
    huey = Huey("imm", url="memory://", immediate=True)
    with pytest.raises(ConfigurationError, match="immediate mode"):
        huey.create_consumer().start()


# A start script written the huey 3 way: parse flags, build the config, load the app.
HUEY3_SCRIPT = """
import logging
import sys

from huey.constants import WORKER_PROCESS, WORKER_TYPES
from huey.consumer_options import ConsumerConfig, OptionParserHandler
from huey.utils import load_class

options, args = OptionParserHandler().get_option_parser().parse_args()
config = ConsumerConfig(**{k: v for k, v in options.__dict__.items() if v is not None})
config.validate()
assert config.worker_type in WORKER_TYPES and config.worker_type != WORKER_PROCESS
huey = load_class(args[0])
config.setup_logger(logging.getLogger("huey"))
huey.create_consumer(**config.values).run()
print("consumer stopped", flush=True)
"""


@pytest.mark.slow
def test_a_huey3_start_script_runs_a_consumer_and_stops_gracefully(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/q.db"
    script = tmp_path / "start_consumer.py"
    script.write_text(HUEY3_SCRIPT)
    env = {
        **os.environ,
        "TEST_HUEY_URL": url,
        "TEST_HUEY_NAME": "h3script",
        "TEST_MARKS_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    process = subprocess.Popen(
        [sys.executable, str(script), "procapp.huey", "-w", "2", "-g", "TERM", "-v"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        producer = Huey("h3script", url=url)
        add = producer.task(name="add")(lambda a, b: None)
        assert add(1, 2).get(blocking=True, timeout=WAIT) == 3
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "consumer stopped" in output and "DEBUG" in output


def test_run_returns_once_stop_is_called_from_another_thread(huey) -> None:
    # The consumer's thread and this one first use the storage at about the same time
    # (see test_threads_first_using_the_storage_at_once_share_one).
    @huey.task()
    def add(a, b):
        return a + b

    consumer = huey.create_consumer(workers=1, heartbeat_timeout=3)
    runner = threading.Thread(target=consumer.run, daemon=True)
    runner.start()
    assert add(1, 2).get(blocking=True, timeout=WAIT) == 3
    consumer.stop()
    runner.join(WAIT)
    assert not runner.is_alive()
