"""A deployment on a bad day: killed supervisords, deleted state, edited or moved manifests,
broken changes, concurrent commands. Real supervisord, real consumers, real files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hueyctl import bind, deployment, state, supervisor
from hueyctl.manifest import load
from hueyctl.supervisor import pid_alive

from ..test_examples import processes_under
from .hueyctl_helpers import write_manifest
from .test_e2e import in_foreground, rows_printed, wait_for

APP = """
import os
import time
from pathlib import Path

from huey import Huey

HERE = Path(__file__).parent
huey = Huey("life")


@huey.task()
def hold(word):
    '''Runs until the test writes "go", then records who finished it.'''
    (HERE / f"started-{word}").write_text(str(os.getpid()))
    while not (HERE / "go").exists():
        time.sleep(0.05)
    (HERE / f"done-{word}.tmp").write_text(str(os.getpid()))
    os.replace(HERE / f"done-{word}.tmp", HERE / f"done-{word}")
"""

MANIFEST = """
version: 1
project: life
instances:
  alpha: {app: "life_app:huey", storage: "sqlite:///alpha.db", startsecs: 1, shutdown_timeout: 1}
"""


@pytest.fixture
def project(tmp_path: Path, state_home: Path, fresh_imports: None) -> Iterator[Path]:
    """An app with a task that waits for a file, and its manifest; nothing is left running."""
    (tmp_path / "life_app.py").write_text(APP)
    path = write_manifest(tmp_path / "m.yaml", MANIFEST)
    yield path
    with contextlib.suppress(Exception):
        deployment.down(state.applied_manifest(path, load(path).state_dir))
    for line in processes_under(tmp_path):  # what down could not stop fails the test
        os.kill(int(line.split(":")[0]), signal.SIGKILL)
        pytest.fail(f"left running: {line}")


def status(hueyctl) -> dict[str, tuple[str, int | None]]:
    result = hueyctl("status", "--json")
    assert result.exit_code in (0, 3), result.output
    return {r["instance"]: (r["state"], r["pid"]) for r in json.loads(result.stdout)}


def supervisord_pid(path: Path) -> int:
    return int(state.paths(load(path)).pidfile.read_text())


def outlasted_default_retries(hueyctl, project: Path, crashed: int) -> bool:
    """supervisord started alpha's consumer more often than its default three start
    retries allow (1 start + 1 after the crash + 3 retries), or the consumer is up
    and waits for its storage itself."""
    spawned = state.paths(load(project)).logfile.read_text().count("spawned: 'alpha'")
    state_now, pid = status(hueyctl)["alpha"]
    return spawned > 5 or (state_now == "RUNNING" and pid != crashed)


def test_validate_and_render_accept_an_empty_state_directory(hueyctl, project: Path) -> None:
    # systemd's StateDirectory= and the Dockerfile's `install -d` create it empty.
    state.paths(load(project)).root.mkdir()
    result = hueyctl("validate", project)
    assert result.exit_code == 0, result.output
    assert hueyctl("render", project).exit_code == 0


def test_a_second_up_is_refused_while_one_holds_the_deployment(hueyctl, project: Path) -> None:
    manifest = load(project)
    where = state.paths(manifest)
    where.create()
    with state.changing(where, manifest, "up"):
        result = hueyctl("up", project)
    assert result.exit_code == 1
    assert "another hueyctl up is running for life" in result.stderr
    assert processes_under(project.parent) == []


def test_up_starts_nothing_when_a_consumer_could_not_reach_its_storage(
    hueyctl, project: Path
) -> None:
    closed = "redis://127.0.0.1:1/0"  # a port nothing listens on
    write_manifest(project, MANIFEST.replace("sqlite:///alpha.db", closed))
    result = hueyctl("up", project)
    assert result.exit_code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("not applied, the new consumer cannot start: alpha: ")
    assert "unreachable" in first
    assert "Traceback" not in result.stderr  # docs/hueyctl.md: no command prints one
    assert processes_under(project.parent) == [] and state.recorded() == []


@pytest.mark.slow
def test_consumers_stop_with_a_killed_supervisord_and_hand_back_their_task(
    hueyctl, project: Path
) -> None:
    assert hueyctl("up", project).exit_code == 0
    consumer = status(hueyctl)["alpha"][1]
    bind(project)
    from life_app import hold

    hold("a")
    wait_for(lambda: (project.parent / "started-a").exists())

    os.kill(supervisord_pid(project), signal.SIGKILL)
    # The consumer got its graceful stop signal from the kernel and put its task back.
    wait_for(lambda: not pid_alive(consumer))
    assert processes_under(project.parent) == []
    assert status(hueyctl) == {"alpha": ("DOWN", None)}

    (project.parent / "go").touch()
    assert hueyctl("up", project).exit_code == 0
    done = wait_for(lambda: (project.parent / "done-a").exists() and project.parent / "done-a")
    assert int(done.read_text()) == status(hueyctl)["alpha"][1] != consumer


@pytest.mark.slow
def test_consumers_outside_supervisord_are_shown_never_duplicated_and_stopped(
    hueyctl, project: Path
) -> None:
    assert hueyctl("up", project).exit_code == 0
    consumer = status(hueyctl)["alpha"][1]
    # The state directory goes (socket, pid file, config, logs): supervisord runs on.
    shutil.rmtree(state.paths(load(project)).root)

    assert status(hueyctl) == {"alpha": ("UNSUPERVISED", consumer)}
    refused = hueyctl("up", project)
    assert refused.exit_code == 1, refused.output
    assert f"alpha (pid {consumer})" in refused.stderr and "hueyctl down" in refused.stderr
    assert status(hueyctl) == {"alpha": ("UNSUPERVISED", consumer)}  # and no second one

    stopped = hueyctl("down", "--json")
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.stdout) == [{"project": "life", "stopped": True}]
    assert processes_under(project.parent) == [] and state.recorded() == []


@pytest.mark.slow
def test_a_stuck_supervisord_fails_commands_in_one_line_instead_of_hanging_them(
    hueyctl, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hueyctl("up", project).exit_code == 0
    monkeypatch.setattr(supervisor, "ANSWER_TIMEOUT", 1.0)
    pid = supervisord_pid(project)
    os.kill(pid, signal.SIGSTOP)  # it still takes connections, and never answers
    try:
        for command in (["status"], ["down"], ["up", project]):
            result = hueyctl(*command)
            assert result.exit_code == 1, (command, result.output)
            assert result.stderr == (
                f"supervisord did not answer on {state.paths(load(project)).socket} in 1s: "
                f"it is stopped or stuck (pid {pid}; its log: "
                f"{state.paths(load(project)).logfile})\n"
            )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status(hueyctl)["alpha"][0] == "RUNNING"


@pytest.mark.slow
def test_what_runs_is_what_up_applied(hueyctl, project: Path) -> None:
    assert hueyctl("up", project).exit_code == 0
    first = status(hueyctl)["alpha"][1]
    write_manifest(project, MANIFEST.replace("life_app:huey", "lfie_app:huey"))

    # A crash restarts the consumer as applied, not as the file now says.
    os.kill(first, signal.SIGKILL)
    second = wait_for(
        lambda: (s := status(hueyctl)["alpha"])[0] == "RUNNING" and s[1] != first and s
    )
    plan = hueyctl("plan", project, "--json")
    assert [(r["instance"], r["action"], r["fields"]) for r in json.loads(plan.stdout)] == [
        ("alpha", "restart", ["app"])
    ]

    # Applying a consumer that cannot start is refused; the old one runs on.
    broken = hueyctl("up", project)
    assert broken.exit_code == 1, broken.output
    first_line = broken.stderr.splitlines()[0]
    assert "not applied" in first_line and "cannot import 'lfie_app:huey'" in first_line
    assert status(hueyctl)["alpha"] == second

    # A moved manifest leaves the deployment visible and stoppable.
    project.rename(project.with_name("moved.yaml"))
    assert status(hueyctl)["alpha"] == second
    assert hueyctl("restart", "alpha").exit_code == 0
    assert status(hueyctl)["alpha"][0] == "RUNNING"
    assert hueyctl("down").exit_code == 0
    assert processes_under(project.parent) == []


@pytest.mark.slow
def test_foreground_started_again_after_a_sigkill_takes_over(
    hueyctl, project: Path, tmp_path: Path
) -> None:
    with open(tmp_path / "stderr", "w+") as stderr:
        with in_foreground(project, stderr) as main:
            consumer = rows_printed(main)[0]["pid"]
            main.kill()
        with in_foreground(project, stderr) as again:
            rows = rows_printed(again)
            assert [(r["instance"], r["state"]) for r in rows] == [("alpha", "RUNNING")]
            assert not pid_alive(consumer) and rows[0]["pid"] != consumer
            again.send_signal(signal.SIGTERM)
            assert again.wait(timeout=60) == 0
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_a_consumer_that_crashed_in_a_storage_outage_comes_back_with_the_storage(
    hueyctl, project: Path, redis_server
) -> None:
    redis_server.start()
    redis_server.flushdb()
    # startsecs: 5, so that a start failing on a loaded machine still counts as failed.
    on_redis = MANIFEST.replace("sqlite:///alpha.db", redis_server.url)
    write_manifest(project, on_redis.replace("startsecs: 1", "startsecs: 5"))
    assert hueyctl("up", project).exit_code == 0
    crashed = status(hueyctl)["alpha"][1]
    try:
        redis_server.stop()
        os.kill(crashed, signal.SIGKILL)
        # Longer than supervisord's default three start retries last, whether the
        # consumer exits and is started again or waits for its storage itself.
        wait_for(lambda: outlasted_default_retries(hueyctl, project, crashed), 60)
    finally:
        redis_server.start()
    back = wait_for(lambda: (s := status(hueyctl)["alpha"])[0] == "RUNNING" and s[1], 90)
    (project.parent / "go").touch()
    bind(project)
    from life_app import hold

    hold("b")
    done = wait_for(lambda: (project.parent / "done-b").exists() and project.parent / "done-b")
    assert int(done.read_text()) == back


CHILD = """
import signal, sys, time
from hueyctl import lifeline

if sys.argv[1] == "watch":  # as where the kernel has no parent-death signal
    lifeline._LIBC = None
stops = []
signal.signal(signal.SIGINT, lambda *_: stops.append(1))
lifeline.end_with_parent()
print("ready", flush=True)
while not stops:
    time.sleep(0.05)
print("stopping", len(stops), flush=True)
time.sleep(1.5)  # a second signal, if one came, would show in the count below
print("signals", len(stops), flush=True)
"""
PARENT = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=sys.stdout)
time.sleep(300)
"""


@pytest.mark.parametrize("how", ["prctl", "watch"])
def test_a_process_gets_one_graceful_signal_when_its_parent_dies(tmp_path: Path, how) -> None:
    out = tmp_path / "out"
    with out.open("w") as stdout:
        parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, how], stdout=stdout)
    try:
        wait_for(lambda: "ready" in out.read_text())
        parent.kill()
        parent.wait()
        wait_for(lambda: "signals" in out.read_text())
    finally:
        parent.kill()
    assert out.read_text().split() == ["ready", "stopping", "1", "signals", "1"]
