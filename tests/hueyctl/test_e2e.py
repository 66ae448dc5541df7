"""End to end: the real CLI, a real supervisord, real consumers, on SQLite and on Redis.

Every wait is a bounded poll on something a user could observe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hueyctl import bind, deployment, state
from hueyctl.manifest import load
from hueyctl.supervisor import pid_alive

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


@pytest.fixture(params=["sqlite", "redis"])
def storages(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {"alpha": "sqlite:///alpha.db", "beta": "sqlite:///beta.db"}
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


def test_consumer_that_cannot_start_fails_up_with_its_log(hueyctl, project: Path) -> None:
    # supervisord counts a consumer as started once it has lived startsecs; give the
    # failing import more than enough time to fail first, even on a loaded machine.
    broken = '  broken: {app: "no_such_app:huey", storage: "sqlite:///b.db", startsecs: 15}\n'
    write_manifest(project, project.read_text() + broken)
    result = hueyctl("up", project)
    assert result.exit_code == 1, result.output
    assert "consumer(s) not running: broken" in result.stderr
    assert "cannot import 'no_such_app:huey'" in result.stderr
    status = {r["instance"]: r for r in json.loads(hueyctl("status", project, "--json").stdout)}
    assert status["alpha"]["state"] == "RUNNING"
    assert status["broken"]["state"] in ("BACKOFF", "FATAL", "STARTING")

    # Taking the broken instance out of the manifest removes it and touches nothing else.
    write_manifest(project, project.read_text().replace(broken, ""))
    fixed = hueyctl("up", project, "--json")
    assert fixed.exit_code == 0, fixed.output
    actions = {r["instance"]: r["action"] for r in json.loads(fixed.stdout)}
    assert actions == {"alpha": "keep", "beta": "keep", "broken": "remove"}
    status = json.loads(hueyctl("status", project, "--json").stdout)
    assert [r["instance"] for r in status] == ["alpha", "beta"]
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
