"""purge, retry, call, results and errors on one instance, through the real CLI and a
real SQLite file or storage directory, with tasks run in-process as a worker runs them
(no consumer needed; test_chores_e2e.py runs the same chores against supervised consumers)."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest

from huey import Huey
from huey.task import utcnow
from hueyctl import bind, chores
from hueyctl.errors import OperationFailed

from .hueyctl_helpers import write_manifest

APP = '''
"""Tasks for the chore tests; messages are signed."""
from pathlib import Path

from huey import Huey
from huey.task import utcnow

huey = Huey("{name}", secret="chores-secret")


@huey.task()
def add(a, b=0):
    return a + b


@huey.task()
def needs(path):
    """Fails until ``path`` exists: a failure an operator can fix, then retry."""
    if not Path(path).exists():
        raise RuntimeError(f"{{path}} is missing")
    return "found"
'''


def write_chores_app(directory: Path, module: str, name: str) -> None:
    (directory / f"{module}.py").write_text(APP.format(name=name))


@pytest.fixture(params=["sqlite:///work.db", "file:queues"], ids=["sqlite", "file"])
def project(request: pytest.FixtureRequest, tmp_path: Path, fresh_imports: None) -> Path:
    write_chores_app(tmp_path, "chores_app", "chores")
    return write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: chores
        instances:
          work: {{app: "chores_app:huey", storage: "{request.param}"}}
        """,
    )


def run_one(huey: Huey) -> None:
    """Run the next queued task as a worker would (its failure is recorded, not raised)."""
    huey.execute(huey.deserialize_task(huey.storage.dequeue()))


def rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_purge_counts_asks_and_empties_only_what_is_named(hueyctl, project: Path) -> None:
    huey = bind(project)["work"]
    from chores_app import add

    add(1), add(2), add.schedule(args=(3,), delay=3600)
    huey.store_result("done-id", 5)
    huey.revoke_by_id("kept-revocation")

    refused = hueyctl("purge", "work", "--queue", "--results", "-m", project)
    assert refused.exit_code == 1  # no answer on stdin: nothing happens
    assert "queue (2), results (1)" in refused.stderr
    assert huey.storage.queue_size() == 2

    declined = hueyctl("purge", "work", "--queue", "-m", project, answer="n\n")
    assert declined.exit_code == 1 and huey.storage.queue_size() == 2

    accepted = hueyctl(
        "purge", "work", "--queue", "--results", "-m", project, "--json", answer="y\n"
    )
    typed, printed = accepted.stdout.split("\n", 1)  # the runner echoes the answer
    assert typed.strip() == "y"
    assert json.loads(printed) == [{"instance": "work", "queue": 2, "results": 1}]
    assert huey.storage.queue_size() == 0 and huey.all_results() == {}
    assert huey.storage.schedule_size() == 1  # not named, so kept
    assert huey.is_revoked("kept-revocation")  # revocations share the result store

    quiet = rows(
        hueyctl("purge", "work", "--schedule", "--errors", "--yes", "-m", project, "--json")
    )
    assert quiet == [{"instance": "work", "schedule": 1, "errors": 0}]
    assert hueyctl("purge", "work", "-m", project).exit_code == 2  # nothing named


def test_retry_reenqueues_the_kept_message_under_a_new_id(
    hueyctl, project: Path, tmp_path: Path
) -> None:
    huey = bind(project)["work"]
    from chores_app import add, needs

    missing = tmp_path / "flag"
    failed = needs(str(missing))
    broken = add("x", 1)
    run_one(huey)
    run_one(huey)

    errors = rows(hueyctl("errors", "work", "-m", project, "--json"))
    assert {e["task_id"] for e in errors} == {failed.task_id, broken.task_id}
    assert all(e["retryable"] and "payload" not in e for e in errors)
    assert datetime.datetime.fromisoformat(errors[0]["time"]).utcoffset() == datetime.timedelta(0)

    missing.touch()
    mapping = rows(hueyctl("retry", "work", failed.task_id, "-m", project, "--json"))
    assert [(m["task_id"], m["task"]) for m in mapping] == [(failed.task_id, needs.name)]
    new_id = mapping[0]["new_task_id"]
    assert new_id != failed.task_id
    assert [m.task_id for m in huey.pending_messages()] == [new_id]
    run_one(huey)
    assert huey.result(new_id) == "found"

    text = hueyctl("retry", "work", "--task", add.name, "-m", project)
    assert text.exit_code == 0 and text.stdout.startswith(f"{broken.task_id} -> ")
    assert hueyctl("retry", "work", "--all", "-m", project).exit_code == 0
    assert len(huey.pending_messages()) == 3  # add twice, needs once more

    assert hueyctl("retry", "work", "no-such-id", "-m", project).exit_code == 1
    assert hueyctl("retry", "work", "-m", project).exit_code == 2
    assert hueyctl("retry", "work", "x", "--all", "-m", project).exit_code == 2


def test_retry_refuses_a_message_that_does_not_verify(hueyctl, project: Path) -> None:
    huey = bind(project)["work"]
    from chores_app import add

    forged_with = Huey("chores", secret="another-secret")
    forged = forged_with.serialize_task(add.s(1, 2))
    entry = {"task_id": "forged", "task": add.name, "retries": 0, "error": "x", "time": "t"}
    entry["payload"] = base64.b64encode(forged).decode()
    huey.storage.put_error(json.dumps(entry).encode())

    result = hueyctl("retry", "work", "forged", "-m", project)
    assert result.exit_code == 1
    assert "forged -> not retried: SignatureError" in result.stdout
    assert huey.pending_messages() == []


def test_call_enqueues_by_name_with_json_arguments(hueyctl, project: Path) -> None:
    huey = bind(project)["work"]
    from chores_app import add

    called = rows(
        hueyctl(
            "call",
            "work",
            add.name,
            "--args",
            "[2]",
            "--kwargs",
            '{"b": 3}',
            "-m",
            project,
            "--json",
        )
    )
    (message,) = huey.pending_messages(data=True)
    assert called == [{"instance": "work", "task": add.name, "task_id": message.task_id}]
    assert message.data == ((2,), {"b": 3})

    later = hueyctl(
        "call", "work", "chores_app:add", "--args", "[1]", "--delay", "600", "-m", project
    )
    at = hueyctl("call", "work", add.name, "--eta", "2099-01-01T00:00:00+00:00", "-m", project)
    assert later.exit_code == 0 and at.exit_code == 0
    etas = sorted(m.eta for m in huey.scheduled_messages())
    assert etas[0] > utcnow() and etas[1] == datetime.datetime(2099, 1, 1)

    for wrong in (["nope"], [add.name, "--args", "{}"], [add.name, "--kwargs", "[1"]):
        assert hueyctl("call", "work", *wrong, "-m", project).exit_code == 2
    both = hueyctl("call", "work", add.name, "--delay", "1", "--eta", "2099-01-01", "-m", project)
    assert both.exit_code == 2


def test_results_show_values_read_after_verifying(hueyctl, project: Path) -> None:
    huey = bind(project)["work"]
    huey.store_result("a-task", {"total": 3})
    huey.storage.put_data("forged-task", b"not signed")
    shown = rows(hueyctl("results", "work", "-m", project, "--json"))
    assert shown[0] == {"instance": "work", "task_id": "a-task", "value": "{'total': 3}"}
    assert shown[1]["task_id"] == "forged-task" and shown[1]["value"] is None
    assert "SignatureError" in shown[1]["note"]
    assert huey.result("a-task") == {"total": 3}  # shown, still there to be read


def test_a_waited_call_that_failed_says_whether_it_will_be_retried() -> None:
    huey = Huey("waited", url="memory://")

    @huey.task(retries=1)
    def broken():
        raise RuntimeError("down")

    result = broken()
    huey.execute(huey.dequeue())
    with pytest.raises(OperationFailed, match=r"failed \(1 retries left\): RuntimeError"):
        chores.outcome(result, 1)
    result.reset()
    huey.execute(huey.dequeue())
    with pytest.raises(OperationFailed, match=r"failed: RuntimeError"):
        chores.outcome(result, 1)
