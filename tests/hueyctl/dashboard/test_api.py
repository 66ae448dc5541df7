"""The JSON API serves what the ``--json`` commands print, so scripts and the page agree."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from hueyctl.bind import bind

from .dashboard_helpers import request


def _json_of(hueyctl, *args: object) -> object:
    return json.loads(hueyctl(*args, "--json").stdout)


def test_the_api_answers_like_the_json_commands(hueyctl, serve, project: Path) -> None:
    huey = bind(project)["a"]
    from dash_app import record

    record("now")
    record.schedule(args=("later",), delay=3600)
    huey.record_error({"task_id": "t1", "task": "dash_app.record", "error": "boom", "time": "x"})
    base = f"http://127.0.0.1:{serve().server_address[1]}/api"

    def api(path: str) -> object:
        status, _, body = request(base + path)
        assert status == 200, body
        return json.loads(body)

    assert api("/status") == _json_of(hueyctl, "status", project)
    for which in ("pending", "scheduled"):
        assert api(f"/instances/dash/a/{which}") == _json_of(hueyctl, which, "a", "-m", project)
        with_args = _json_of(hueyctl, which, "a", "-m", project, "--args")
        assert api(f"/instances/dash/a/{which}?args=1") == with_args
    assert api("/instances/dash/a/errors") == _json_of(hueyctl, "errors", "a", "-m", project)

    status, headers, body = request(base.removesuffix("/api") + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    printed = hueyctl("metrics", project).stdout
    assert _steady(body.decode()) == _steady(printed)
    assert 'huey_queue_tasks{instance="a",project="dash"} 1.0' in printed

    page = api("/instances/dash/a")
    assert [row["name"] for row in page["pending"]] == ["dash_app.record"]
    assert page["errors"][0]["error"] == "boom"
    assert "storage" not in json.dumps(page)  # no URL (which may hold a password) is shown
    [nightly] = page["periodic"]
    assert (nightly["task"], nightly["schedule"]) == ("nightly", "30 3 * * *")
    assert datetime.datetime.fromisoformat(nightly["next_run"]).strftime("%H:%M") == "03:30"
    assert page["consumers"] == [] and page["tasks"] == []  # no consumer has run yet
    assert page["process"]["state"] == "DOWN"


def _steady(text: str) -> list[str]:
    """The exposition's lines but the one that moves with the clock."""
    return [line for line in text.splitlines() if "oldest_pending_age" not in line]


def test_unknown_paths_and_bad_actions_answer_with_an_error(serve) -> None:
    server = serve()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    assert request(base + "/api/nothing")[0] == 404
    assert request(base + "/api/instances/other/a")[0] == 400
    assert request(base + "/api/instances/dash/zz")[0] == 400
    csrf = {"X-CSRF-Token": server.guard.csrf}
    status, _, body = request(base + "/api/instances/dash/a/explode", {}, csrf)
    assert (status, json.loads(body)["error"].startswith("no action")) == (400, True)
    assert request(base + "/api/instances/dash/a/revoke", {}, csrf)[0] == 400


def test_retry_runs_a_failed_call_again_under_a_new_id(serve, project: Path) -> None:
    server = serve()
    huey = bind(project)["a"]
    calls = []

    @huey.task(name="flaky")
    def flaky(word):
        calls.append(word)
        if len(calls) == 1:
            raise RuntimeError("first time fails")
        return word.upper()

    result = flaky("again")
    # execute() runs it as a worker would: the failure is recorded, not raised
    assert huey.execute(huey.deserialize_task(huey.storage.dequeue())) is None
    url = f"http://127.0.0.1:{server.server_address[1]}/api/instances/dash/a"
    [error] = json.loads(request(url + "/errors")[2])
    assert error["retryable"] and "payload" not in error  # the arguments are not shown

    csrf = {"X-CSRF-Token": server.guard.csrf}
    status, _, body = request(url + "/retry", {"task_id": result.task_id}, csrf)
    assert status == 200, body
    [mapping] = json.loads(body)  # as `hueyctl retry --json` maps it: a new task id
    assert {k: mapping[k] for k in ("instance", "task_id", "task")} == {
        "instance": "a",
        "task_id": result.task_id,
        "task": "flaky",
    }
    huey.execute(huey.deserialize_task(huey.storage.dequeue()))
    assert calls == ["again", "again"] and huey.result(mapping["new_task_id"]) == "AGAIN"
    assert request(url + "/retry", {"task_id": "unknown"}, csrf)[0] == 409
