"""The chores end to end: call, errors, retry, results and purge against consumers that
a real supervisord runs, on SQLite and on Redis."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hueyctl import bind, deployment, state
from hueyctl.manifest import load

from ..waiting import wait_until
from .hueyctl_helpers import write_manifest
from .test_chores import write_chores_app

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, tmp_path: Path, fresh_imports: None) -> Iterator[Path]:
    storage = "sqlite:///work.db"
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        server.start()
        server.flushdb()
        storage = server.url
    write_chores_app(tmp_path, "chores_live", "live")
    write_chores_app(tmp_path, "chores_other", "other")
    other = storage.replace("work.db", "other.db")
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: live
        instances:
          work: {{app: "chores_live:huey", storage: "{storage}", startsecs: 1}}
          other: {{app: "chores_other:huey", storage: "{other}", startsecs: 1}}
        """,
    )
    yield path
    deployment.down(load(path))


def test_call_fail_retry_results_purge(hueyctl, project: Path, tmp_path: Path) -> None:
    assert hueyctl("up", project).exit_code == 0
    huey = bind(project)["work"]

    called = hueyctl("call", "work", "chores_live.add", "--args", "[2, 3]", "--wait", "--json")
    assert called.exit_code == 0, called.output
    assert json.loads(called.stdout)[0]["value"] == "5"

    flag = tmp_path / "flag"
    failed = hueyctl(
        "call", "work", "chores_live:needs", "--args", json.dumps([str(flag)]), "--wait"
    )
    assert failed.exit_code == 1 and "is missing" in failed.stderr
    failed_id = failed.stdout.strip()
    (error,) = json.loads(hueyctl("errors", "work", "--json").stdout)
    assert error["task_id"] == failed_id and error["retryable"]

    flag.touch()
    (mapping,) = json.loads(hueyctl("retry", "work", "--all", "--json").stdout)
    assert mapping["task_id"] == failed_id
    assert huey.result(mapping["new_task_id"], blocking=True, timeout=30, preserve=True) == "found"
    shown = json.loads(hueyctl("results", "work", "--json").stdout)
    assert {r["task_id"]: r["value"] for r in shown}[mapping["new_task_id"]] == "'found'"

    for delay in ("600", "900"):
        assert (
            hueyctl("call", "work", "chores_live.add", "--args", "[1]", "--delay", delay).exit_code
            == 0
        )
    purged = hueyctl("purge", "work", "--schedule", "--errors", "--results", "--yes", "--json")
    counts = json.loads(purged.stdout)[0]
    assert (counts["schedule"], counts["errors"]) == (2, 1) and counts["results"] >= 1
    status = {r["instance"]: r for r in json.loads(hueyctl("status", "--json").stdout)}
    assert (status["work"]["scheduled"], status["work"]["errors"]) == (0, 0)
    assert status["work"]["state"] == "RUNNING"


def test_ls_and_logs_of_every_instance_with_and_without_supervisord(hueyctl, project: Path) -> None:
    assert hueyctl("up", project).exit_code == 0
    for instance, task in (("work", "chores_live.add"), ("other", "chores_other.add")):
        assert hueyctl("call", instance, task, "--args", "[1]", "--wait").exit_code == 0

    def prefixes(*args: str) -> set[str]:
        result = hueyctl("logs", *args)
        assert result.exit_code == 0, result.output
        return {line.split(" | ")[0].strip() for line in result.stdout.splitlines() if line}

    # supervisord copies what a consumer writes into its log file as it gets to it.
    assert wait_until(lambda: prefixes("-n", "100") == {"work", "other"}, interval=0.2), prefixes(
        "-n", "100"
    )
    assert prefixes("--since", "10m") == {"work", "other"}
    assert prefixes("--since", "2999-01-01T00:00") == set()
    assert hueyctl("logs", "--since", "yesterday").exit_code == 2
    assert wait_until(
        lambda: "finished" in hueyctl("logs", "work", "-n", "100").stdout, interval=0.2
    )
    assert " | " not in hueyctl("logs", "work").stdout

    (listed,) = json.loads(hueyctl("ls", "--json").stdout)
    assert (listed["project"], listed["instances"], listed["running"]) == ("live", 2, 2)
    assert listed["consumers"] == 2

    assert hueyctl("down").exit_code == 0
    assert json.loads(hueyctl("ls", "--json").stdout) == []  # down forgets the deployment
    assert prefixes("--since", "10m", "-m", project) == {"work", "other"}


def test_stop_and_start_one_instance_by_hand(hueyctl, project: Path) -> None:
    assert hueyctl("up", project).exit_code == 0

    def states() -> dict[str, tuple[str, str | None]]:
        rows = json.loads(hueyctl("status", "--json").stdout)
        return {r["instance"]: (r["state"], r.get("by_hand")) for r in rows}

    stopped = hueyctl("stop", "work", "--json")
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.stdout)[0]["state"] == "STOPPED"
    assert states() == {"work": ("STOPPED", "stopped"), "other": ("RUNNING", None)}
    assert hueyctl("status").exit_code == 0  # stopped by hand is not a failure
    checked = hueyctl("check", "--json")
    assert checked.exit_code == 0, checked.output

    plan = hueyctl("plan", project).stdout
    assert "work: stopped by hand; `hueyctl start work`" in plan
    again = {r["instance"]: r for r in json.loads(hueyctl("up", project, "--json").stdout)}
    assert again["work"]["state"] == "STOPPED" and "stopped by hand" in again["work"]["action"]

    # Even a new supervisord leaves it stopped.
    assert hueyctl("down").exit_code == 0
    assert hueyctl("up", project).exit_code == 0
    assert states() == {"work": ("STOPPED", "stopped"), "other": ("RUNNING", None)}

    started = json.loads(hueyctl("start", "work", "--json").stdout)
    assert started[0]["state"] == "RUNNING"
    assert states() == {"work": ("RUNNING", None), "other": ("RUNNING", None)}

    assert hueyctl("stop", "work").exit_code == 0
    assert hueyctl("up", project, "--start-stopped").exit_code == 0
    assert states() == {"work": ("RUNNING", None), "other": ("RUNNING", None)}
    assert hueyctl("stop", "nope").exit_code == 2


def test_replicas_start_and_stop_only_the_difference(hueyctl, project: Path) -> None:
    def replicas(count: int) -> None:
        text = re.sub(
            r"(work: \{.*?startsecs: 1)(, replicas: \d+)?",
            rf"\1, replicas: {count}",
            project.read_text(),
        )
        project.write_text(text)

    def pids() -> dict[str, tuple[str, int]]:
        rows = json.loads(hueyctl("status", "--json").stdout)
        return {r["instance"]: (r["state"], r["pid"]) for r in rows}

    replicas(2)
    assert hueyctl("up", project).exit_code == 0
    two = pids()
    assert sorted(two) == ["other", "work", "work.2"]
    assert {state for state, _ in two.values()} == {"RUNNING"}
    assert two["work"][1] != two["work.2"][1]
    again = json.loads(hueyctl("up", project, "--json").stdout)
    assert {c["action"] for c in again} == {"keep"}  # nothing changed, nothing done

    replicas(3)
    planned = {
        r["instance"]: r["action"] for r in json.loads(hueyctl("plan", project, "--json").stdout)
    }
    assert planned == {"work": "keep", "work.2": "keep", "work.3": "add", "other": "keep"}
    assert hueyctl("up", project).exit_code == 0
    three = pids()
    assert {k: three[k] for k in two} == two  # the running ones were left alone

    # Each replica logs to its own file; `logs work` shows them all, each line after its name.
    def logged() -> set[str]:
        shown = hueyctl("logs", "work", "-n", "50").stdout.splitlines()
        return {line.split(" | ")[0].strip() for line in shown}

    assert wait_until(lambda: logged() == {"work", "work.2", "work.3"}, interval=0.2), logged()
    huey = bind(project)["work"]
    from chores_live import add

    assert [add(i, 1).get(blocking=True, timeout=30) for i in range(6)] == [1, 2, 3, 4, 5, 6]

    assert hueyctl("stop", "work").exit_code == 0
    stopped = pids()
    assert [stopped[k][0] for k in ("work", "work.2", "work.3")] == ["STOPPED"] * 3
    assert hueyctl("start", "work").exit_code == 0
    started = pids()

    replicas(1)
    assert hueyctl("up", project).exit_code == 0
    one = pids()
    assert sorted(one) == ["other", "work"] and one["work"] == started["work"]
    assert huey.storage.queue_size() == 0

    # Replicas running without an answering supervisord are each seen, and stopped.
    replicas(2)
    assert hueyctl("up", project).exit_code == 0
    supervised = pids()
    shutil.rmtree(state.paths(load(project)).root)
    unsupervised = pids()
    assert {k: v[0] for k, v in unsupervised.items()} == dict.fromkeys(supervised, "UNSUPERVISED")
    assert {k: v[1] for k, v in unsupervised.items()} == {k: v[1] for k, v in supervised.items()}
    assert hueyctl("down", project).exit_code == 0
