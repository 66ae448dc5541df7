"""Task commands across instances, through huey's API, with no consumer running."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from hueyctl import bind, state
from hueyctl.fleet import parse_when
from hueyctl.manifest import load

from .hueyctl_helpers import write_app, write_manifest


@pytest.fixture
def project(tmp_path: Path, fresh_imports: None) -> Path:
    write_app(tmp_path, "fleet_a", "fleet-a")
    write_app(tmp_path, "fleet_b", "fleet-b")
    return write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: fleet
        instances:
          a: {app: "fleet_a:huey", storage: "sqlite:///a.db"}
          b: {app: "fleet_b:huey", storage: "sqlite:///b.db"}
        """,
    )


def test_revoke_finds_the_instance_and_restore_undoes_it(hueyctl, project: Path) -> None:
    hueys = bind(project)
    from fleet_b import record

    waiting = record.schedule(args=("x",), delay=3600)
    result = hueyctl("revoke", waiting.task.task_id, "-m", project, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["instance"] == "b"
    assert hueys["b"].is_revoked(waiting.task.task_id)
    assert not hueys["a"].is_revoked(waiting.task.task_id)

    restored = hueyctl("restore", waiting.task.task_id, "-m", project, "--json")
    assert json.loads(restored.stdout) == [
        {"instance": "b", "task_id": waiting.task.task_id, "restored": True}
    ]
    assert not hueys["b"].is_revoked(waiting.task.task_id)


def test_unknown_task_id_fails_and_names_the_way_out(hueyctl, project: Path) -> None:
    result = hueyctl("revoke", "no-such-id", "-m", project)
    assert result.exit_code == 1
    assert "--instance" in result.stderr
    forced = hueyctl("revoke", "no-such-id", "-m", project, "--instance", "a", "--once")
    assert forced.exit_code == 0
    assert bind(project)["a"].is_revoked("no-such-id")


def test_revoke_a_whole_task_by_name(hueyctl, project: Path) -> None:
    hueys = bind(project)
    result = hueyctl("revoke", "--task", "fleet_a.record", "-m", project, "--json")
    assert json.loads(result.stdout) == [
        {"instance": "a", "task": "fleet_a.record", "revoked": True}
    ]
    assert hueys["a"].is_revoked("fleet_a.record")
    assert hueyctl("restore", "--task", "fleet_a.record", "-m", project).exit_code == 0
    assert not hueys["a"].is_revoked("fleet_a.record")
    unknown = hueyctl("revoke", "--task", "nope", "-m", project)
    assert unknown.exit_code == 2


class Marker:
    """An argument whose unpickling creates a file: proves whether arguments were unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pending_and_scheduled_unpickle_arguments_only_with_args(
    hueyctl, project: Path, tmp_path: Path
) -> None:
    bind(project)
    from fleet_a import record

    marker = tmp_path / "unpickled"
    queued = record(Marker(marker))
    later = record.schedule(args=(Marker(marker),), delay=3600)
    pending = json.loads(hueyctl("pending", "a", "-m", project, "--json").stdout)
    scheduled = json.loads(hueyctl("scheduled", "a", "-m", project, "--json").stdout)
    assert [(r["task_id"], r["name"]) for r in pending] == [(queued.task_id, "fleet_a.record")]
    assert [r["task_id"] for r in scheduled] == [later.task_id]
    assert "args" not in pending[0] and scheduled[0]["execute_time"]
    assert not marker.exists()
    assert hueyctl("revoke", queued.task_id, "-m", project).exit_code == 0
    assert not marker.exists()

    hueyctl("pending", "a", "-m", project, "--args")
    assert marker.exists()


def test_pending_scheduled_and_status_counts(hueyctl, project: Path) -> None:
    bind(project)
    from fleet_a import record

    record("now")
    record.schedule(args=("later",), delay=3600)
    pending = json.loads(hueyctl("pending", "a", "-m", project, "--json", "--args").stdout)
    assert [(r["name"], r["args"]) for r in pending] == [("fleet_a.record", "('now',)")]
    scheduled = json.loads(hueyctl("scheduled", "a", "-m", project, "--json", "--args").stdout)
    assert [r["args"] for r in scheduled] == ["('later',)"]
    assert hueyctl("results", "a", "-m", project).stdout.strip() == "(none)"
    assert hueyctl("errors", "a", "-m", project).stdout.strip() == "(none)"
    status = {r["instance"]: r for r in json.loads(hueyctl("status", project, "--json").stdout)}
    assert (status["a"]["state"], status["a"]["queued"], status["a"]["scheduled"]) == ("DOWN", 1, 1)
    assert status["b"]["queued"] == 0
    table = hueyctl("status", project).stdout
    assert table.splitlines()[0].split()[:4] == ["PROJECT", "INSTANCE", "STATE", "PID"]


def test_status_counts_task_results_only(hueyctl, project: Path) -> None:
    huey = bind(project)["a"]
    # Locks and revocations live in the same key/value store as results.
    huey.lock_task("nightly").__enter__()
    huey.revoke_by_id("some-task-id")
    huey.revoke_all("fleet_a.record")

    def results() -> int:
        rows = json.loads(hueyctl("status", project, "--json").stdout)
        return {r["instance"]: r["results"] for r in rows}["a"]

    assert results() == 0
    huey.store_result("finished-task-id", 42)
    assert results() == 1


def test_commands_without_a_manifest_need_a_recorded_deployment(hueyctl) -> None:
    result = hueyctl("revoke", "some-id")
    assert result.exit_code == 2
    assert "no deployment recorded" in result.stderr
    assert hueyctl("revoke", "-m", "x.yaml").exit_code == 2  # neither id nor --task


def test_when_accepts_durations_and_iso_times() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert parse_when("90s", now) == now + datetime.timedelta(seconds=90)
    assert parse_when("2h", now) == now + datetime.timedelta(hours=2)
    assert parse_when("2026-01-31T18:00+00:00") == datetime.datetime(
        2026, 1, 31, 18, tzinfo=datetime.timezone.utc
    )


def test_unreachable_storage_is_one_line_and_exit_1(
    hueyctl, tmp_path: Path, fresh_imports: None
) -> None:
    write_app(tmp_path, "fleet_down", "fleet-down")
    manifest = write_manifest(
        tmp_path / "down.yaml",
        """
        version: 1
        project: down
        instances:
          a: {app: "fleet_down:huey", storage: "redis://127.0.0.1:1/0"}
        """,
    )
    result = hueyctl("pending", "a", "-m", manifest)
    assert result.exit_code == 1
    assert "a: storage unavailable: Redis at 127.0.0.1:1 is unreachable" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_ls_lists_recorded_deployments_and_says_which_are_broken(hueyctl, project: Path) -> None:
    state.record(load(project))
    (row,) = json.loads(hueyctl("ls", "--json").stdout)
    assert row == {
        "project": "fleet",
        "manifest": str(project),
        "state_dir": str(project.parent / ".hueyctl"),
        "instances": 2,
        "consumers": 2,
        "running": 0,
    }
    assert json.loads(hueyctl("ls", "-p", "other", "--json").stdout) == []
    assert hueyctl("ls").stdout.splitlines()[0].split() == [
        "PROJECT",
        "MANIFEST",
        "STATE_DIR",
        "INSTANCES",
        "CONSUMERS",
        "RUNNING",
    ]
    project.unlink()
    (gone,) = json.loads(hueyctl("ls", "--json").stdout)
    assert gone["manifest"] == str(project) and "m.yaml" in gone["note"]
