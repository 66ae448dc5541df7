"""End to end: the real CLI, a real supervisord, real consumers, on SQLite, Redis and files.

Every wait is a bounded poll on something a user could observe.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from hueyctl import bind, deployment, state
from hueyctl.manifest import load
from hueyctl.supervisor import pid_alive

from ..test_examples import processes_under
from .hueyctl_helpers import write_app, write_manifest

pytestmark = pytest.mark.slow

MANIFEST = """
version: 1
project: e2e
instances:
  alpha: {{app: "app_alpha:huey", storage: "{alpha}", workers: {workers}, startsecs: 1}}
  beta: {{app: "app_beta:huey", storage: "{beta}", startsecs: 1}}
"""


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


@pytest.fixture(params=["sqlite", "redis", "file"])
def storages(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {"alpha": "sqlite:///alpha.db", "beta": "sqlite:///beta.db"}
    if request.param == "file":  # one directory: each Huey name has its own queue there
        return {"alpha": "file:queues", "beta": "file:queues"}
    server = request.getfixturevalue("redis_server")
    server.start()
    server.flushdb()
    return {"alpha": server.url, "beta": server.url}


@pytest.fixture
def project(tmp_path: Path, storages: dict[str, str], fresh_imports: None) -> Iterator[Path]:
    """A directory with two test apps and a manifest; whatever `up` started is stopped."""
    write_app(tmp_path, "app_alpha", "alpha")
    write_app(tmp_path, "app_beta", "beta")
    path = write_manifest(tmp_path / "m.yaml", MANIFEST.format(workers=1, **storages))
    yield path
    manifest = load(path)
    pid = state.paths(manifest).pidfile
    deployment.down(manifest)
    if pid.exists():
        assert not pid_alive(int(pid.read_text()))


def pids(hueyctl, path: Path) -> dict[str, int]:
    result = hueyctl("status", path, "--json")
    assert result.exit_code == 0, result.output
    return {row["instance"]: row["pid"] for row in json.loads(result.stdout)}


def test_up_change_revoke_down(hueyctl, project: Path, tmp_path: Path) -> None:
    result = hueyctl("up", project, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {(r["instance"], r["state"], r["action"]) for r in rows} == {
        ("alpha", "RUNNING", "add"),
        ("beta", "RUNNING", "add"),
    }
    first = pids(hueyctl, project)

    # The enqueuing side binds to the same manifest and its tasks complete.
    hueys = bind(project)
    from app_alpha import record as alpha_record
    from app_beta import record as beta_record

    assert hueys["alpha"] is alpha_record.huey
    assert alpha_record("a1").get(blocking=True, timeout=20) == "a1"
    assert beta_record("b1").get(blocking=True, timeout=20) == "b1"

    # A second up changes nothing.
    again = json.loads(hueyctl("up", project, "--json").stdout)
    assert {r["action"] for r in again} == {"keep"}
    assert pids(hueyctl, project) == first

    # A change to one instance restarts that instance only.
    text = project.read_text().replace("workers: 1", "workers: 2")
    write_manifest(project, text)
    planned = json.loads(hueyctl("plan", project, "--json").stdout)
    assert {r["instance"]: r["fields"] for r in planned} == {"alpha": ["workers"], "beta": []}
    assert hueyctl("up", project).exit_code == 0
    now = pids(hueyctl, project)
    assert now["beta"] == first["beta"] and now["alpha"] != first["alpha"]
    assert not pid_alive(first["alpha"])

    # A revoked scheduled task never runs; a task scheduled after it does.
    hueys = bind(project)
    doomed = beta_record.schedule(args=("doomed",), delay=2)
    revoked = hueyctl("revoke", doomed.task.task_id, "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)[0]["instance"] == "beta"
    control = beta_record.schedule(args=("control",), delay=3)
    assert control.get(blocking=True, timeout=30) == "control"
    wait_for(lambda: not hueys["beta"].scheduled() and not hueys["beta"].pending())
    done = (tmp_path / "done-beta.txt").read_text()
    assert "control" in done and "doomed" not in done

    status = json.loads(hueyctl("status", "--json").stdout)
    assert {r["instance"]: r["state"] for r in status} == {"alpha": "RUNNING", "beta": "RUNNING"}

    # Operations on one instance, found through the recorded deployment.
    assert "consumer" in hueyctl("logs", "alpha", "-n", "50").stdout
    assert hueyctl("reload", "alpha").exit_code == 0
    restarted = json.loads(hueyctl("restart", "beta", "--json").stdout)
    assert restarted[0]["state"] == "RUNNING" and restarted[0]["pid"] != now["beta"]
    now = pids(hueyctl, project)

    # down leaves no process behind.
    supervisord = int(state.paths(load(project)).pidfile.read_text())
    assert hueyctl("down").exit_code == 0
    for pid in (supervisord, *now.values()):
        assert not pid_alive(pid)


def test_consumer_that_cannot_start_is_not_applied(hueyctl, project: Path) -> None:
    assert hueyctl("up", project).exit_code == 0
    broken = '  broken: {app: "no_such_app:huey", storage: "sqlite:///b.db", startsecs: 1}\n'
    write_manifest(project, project.read_text() + broken)
    result = hueyctl("up", project)
    assert result.exit_code == 1, result.output
    # The error first, then the new consumer's output.
    first, *rest = result.stderr.splitlines()
    assert first.startswith("not applied, the new consumer cannot start: broken: ")
    assert "cannot import 'no_such_app:huey'" in first
    assert rest and "no_such_app" in rest[-1]
    status = {r["instance"]: r for r in json.loads(hueyctl("status", project, "--json").stdout)}
    assert {name: row["state"] for name, row in status.items()} == {
        "alpha": "RUNNING",
        "beta": "RUNNING",
    }

    # Fixed, it is added; taken out of the manifest, it is removed; nothing else moves.
    write_app(project.parent, "app_gamma", "gamma")
    write_manifest(project, project.read_text().replace("no_such_app", "app_gamma"))
    fixed = hueyctl("up", project, "--json")
    assert fixed.exit_code == 0, fixed.output
    actions = {r["instance"]: r["action"] for r in json.loads(fixed.stdout)}
    assert actions == {"alpha": "keep", "beta": "keep", "broken": "add"}
    fixed_line = broken.replace("no_such_app", "app_gamma")
    write_manifest(project, project.read_text().replace(fixed_line, ""))
    removed = hueyctl("up", project, "--json")
    actions = {r["instance"]: r["action"] for r in json.loads(removed.stdout)}
    assert actions == {"alpha": "keep", "beta": "keep", "broken": "remove"}
    assert "broken" not in deployment.supervisor(load(project)).processes()


def test_state_dir_override_puts_state_elsewhere(
    hueyctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_imports: None
) -> None:
    # So deep that the manifest's own state dir could not even hold supervisord's socket.
    deep = tmp_path / ("d" * 40)
    deep.mkdir()
    write_app(deep, "app_alpha", "alpha")
    path = write_manifest(
        deep / "m.yaml",
        """
        version: 1
        project: moved
        instances:
          alpha: {app: "app_alpha:huey", storage: "sqlite:///alpha.db", startsecs: 1}
        """,
    )
    assert "too long for a unix socket" in hueyctl("validate", path).stderr
    state_dir = tmp_path / "s"
    try:
        up = hueyctl("up", "--state-dir", state_dir, path)
        assert up.exit_code == 0, up.output
        assert (state_dir / "supervisor.sock").exists() and not (deep / ".hueyctl").exists()
        # Found through the recorded deployment, with its state directory.
        status = json.loads(hueyctl("status", "--json").stdout)
        assert [(r["instance"], r["state"]) for r in status] == [("alpha", "RUNNING")]
        pid = status[0]["pid"]

        # The same manifest with its state elsewhere again would run every consumer twice.
        monkeypatch.setenv("HUEYCTL_STATE_DIR", str(tmp_path / "other"))
        twice = hueyctl("up", path)
        assert twice.exit_code == 2
        assert f"already runs with its state in {state_dir}" in twice.stderr

        monkeypatch.delenv("HUEYCTL_STATE_DIR")
        assert hueyctl("down").exit_code == 0
        assert not pid_alive(pid)
    finally:
        deployment.down(load(path, state_dir=state_dir))


ALPHA = '  alpha: {app: "app_alpha:huey", storage: "sqlite:///alpha.db", startsecs: 1}\n'


@contextlib.contextmanager
def in_foreground(path: Path, stderr: IO[str]) -> Iterator[subprocess.Popen]:
    """`hueyctl up --foreground PATH --json` as a real process, for the block."""
    main = subprocess.Popen(
        [Path(sys.executable).with_name("hueyctl"), "up", "--foreground", path, "--json"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        yield main
    finally:
        if main.poll() is None:
            main.kill()
        main.wait()


def rows_printed(main: subprocess.Popen) -> list[dict[str, Any]]:
    """The JSON rows `up --json` prints once every consumer is RUNNING (or it exited)."""
    lines: list[str] = []
    while not lines or lines[-1] != "]\n":
        line = main.stdout.readline()
        if not line:  # it exited: the JSON is incomplete and the test fails here
            break
        lines.append(line)
    return json.loads("".join(lines))


def test_foreground_runs_until_sigterm_then_leaves_nothing(
    hueyctl, tmp_path: Path, fresh_imports: None
) -> None:
    write_app(tmp_path, "app_alpha", "alpha")
    # It passes `up`'s check, then fails under supervisord (which sets SUPERVISOR_ENABLED).
    (tmp_path / "fails_supervised.py").write_text(
        "import os\nif os.environ.get('SUPERVISOR_ENABLED'):\n    raise RuntimeError('boom')\n"
        "from app_alpha import huey\n"
    )
    broken = '  broken: {app: "fails_supervised:huey", storage: "sqlite:///b.db", startsecs: 15}\n'
    path = write_manifest(tmp_path / "m.yaml", "version: 1\nproject: fg\ninstances:\n" + ALPHA)
    supervisord_log = state.paths(load(path)).logfile

    # A consumer that does not come up fails it as it fails `up`; nothing is left running.
    write_manifest(path, path.read_text() + broken)
    failed = hueyctl("up", "--foreground", path)
    assert failed.exit_code == 1, failed.output
    # The error comes first, then the log tail that ends with it.
    first = failed.stderr.splitlines()[0]
    assert first.startswith("consumer(s) not running: broken: ") and first.endswith(
        "RuntimeError: boom"
    ), failed.stderr
    assert "--- broken (" in failed.stderr
    assert processes_under(tmp_path) == [] and state.recorded() == []

    write_manifest(path, path.read_text().replace(broken, ""))
    earlier = len(supervisord_log.read_text())
    with open(tmp_path / "stderr", "w+") as stderr, in_foreground(path, stderr) as main:
        rows = rows_printed(main)
        assert [(r["instance"], r["state"], r["action"]) for r in rows] == [
            ("alpha", "RUNNING", "add")
        ]
        status = running(hueyctl)
        assert status == {"alpha": rows[0]["pid"]}
        supervisord = int(state.paths(load(path)).pidfile.read_text())
        assert parent_of(supervisord) == main.pid
        assert hueyctl("up", "--foreground", path).exit_code == 2  # one is enough
        from app_alpha import record

        bind(path)
        assert record("fg").get(blocking=True, timeout=20) == "fg"

        # A plain `up` (systemd's ExecReload) updates it; it cannot replace its supervisord.
        write_manifest(path, path.read_text().replace("startsecs: 1", "startsecs: 1, workers: 2"))
        assert hueyctl("up", path).exit_code == 0
        assert running(hueyctl)["alpha"] != status["alpha"]
        http = 'http: {port: 9001, username: ops, password: "{SHA}' + "0" * 40 + '"}\n'
        write_manifest(path, http + path.read_text())
        refused = hueyctl("up", path)
        assert refused.exit_code == 1 and "restart the `hueyctl up --foreground`" in refused.stderr
        assert main.poll() is None

        main.send_signal(signal.SIGTERM)
        assert main.wait(timeout=60) == 0
        stderr.seek(0)
        assert stderr.read().endswith("fg: stopped (SIGTERM)\n")
    # Stopped gracefully (SIGINT, exit 0), not killed; and forgotten like after `down`.
    assert "stopped: alpha (exit status 0)" in supervisord_log.read_text()[earlier:]
    assert processes_under(tmp_path) == [] and state.recorded() == []


def test_foreground_fails_when_supervisord_dies(
    hueyctl, tmp_path: Path, fresh_imports: None
) -> None:
    """What makes systemd's Restart=on-failure restart the unit."""
    write_app(tmp_path, "app_alpha", "alpha")
    path = write_manifest(tmp_path / "m.yaml", "version: 1\nproject: fg\ninstances:\n" + ALPHA)
    with open(tmp_path / "stderr", "w+") as stderr, in_foreground(path, stderr) as main:
        consumers = {r["instance"]: r["pid"] for r in rows_printed(main)}
        try:
            os.kill(int(state.paths(load(path)).pidfile.read_text()), signal.SIGKILL)
            assert main.wait(timeout=30) == 1
        finally:  # orphaned by supervisord's death: in production systemd kills them
            for pid in consumers.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        stderr.seek(0)
        assert "supervisord was killed by SIGKILL" in stderr.read()
    assert state.recorded() == []


def running(hueyctl) -> dict[str, int] | None:
    """Each instance's pid once `hueyctl status` shows every consumer RUNNING."""
    result = hueyctl("status", "--json")
    rows = json.loads(result.stdout) if result.exit_code == 0 else []
    if rows and all(r["state"] == "RUNNING" for r in rows):
        return {r["instance"]: r["pid"] for r in rows}
    return None


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])
