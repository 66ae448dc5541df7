"""examples/manifests: every manifest is valid, every import path in it resolves, the
example app's tasks and hooks work in-process, and the quickstart runs end to end
the way the README tells a newcomer to run it."""

from __future__ import annotations

import contextlib
import datetime
import importlib
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from typer.testing import CliRunner

from huey import Huey, PeriodicQueueTask, TaskWrapper
from hueyctl.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "manifests"
MANIFESTS = sorted(EXAMPLES.glob("*.yaml"))
SECRETS = {"SMTP_PASSWORD": "not-a-secret"}
HUEYCTL = Path(sys.executable).with_name("hueyctl")


def hueyctl(*args: str):
    """Run a hueyctl command in-process, as a user would type it."""
    return CliRunner().invoke(app, [str(a) for a in args])


def import_paths(manifest: dict) -> dict[str, list[str]]:
    """Every ``module:attribute`` a manifest names, by what it is used for."""
    paths: dict[str, list[str]] = {"app": [], "hook": [], "task": []}
    for instance in manifest["instances"].values():
        paths["app"].append(instance["app"])
        for hooks in instance.get("hooks", {}).values():
            paths["hook"] += hooks
        paths["task"] += [s["task"] for s in instance.get("schedules", {}).values()]
    return paths


def resolve(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@pytest.fixture
def demo(monkeypatch):
    """The example app, imported the way the launcher imports it (the manifests'
    directory first on sys.path), with every instance running tasks eagerly."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from demo import emails, hooks, reports, webhooks

    for module in (emails, reports, webhooks):
        monkeypatch.setattr(module.huey, "always_eager", True)
    return {"emails": emails, "reports": reports, "webhooks": webhooks, "hooks": hooks}


def test_there_is_a_quickstart_and_a_redis_example():
    assert {p.name for p in MANIFESTS} >= {"quickstart.yaml", "multi-redis.yaml"}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_example_manifest_validates(manifest, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    result = hueyctl("validate", "--check-imports", manifest)
    assert result.exit_code == 0, result.output


def test_redis_example_reads_its_secret_from_the_environment(monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    result = hueyctl("validate", EXAMPLES / "multi-redis.yaml")
    assert result.exit_code == 2
    assert "instances.emails.env.SMTP_PASSWORD" in result.output
    assert "${SMTP_PASSWORD} is not set" in result.output


def test_quickstart_needs_no_server():
    manifest = yaml.safe_load((EXAMPLES / "quickstart.yaml").read_text())
    storages = [i["storage"] for i in manifest["instances"].values()]
    assert len(storages) >= 2 and all(s.startswith("sqlite:///") for s in storages)
    assert not any(s.startswith("sqlite:////") for s in storages), "absolute paths do not travel"
    assert any(i.get("schedules") for i in manifest["instances"].values())
    assert any(i.get("hooks") for i in manifest["instances"].values())


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_every_import_path_in_the_manifest_resolves(manifest, demo):
    paths = import_paths(yaml.safe_load(manifest.read_text()))
    assert all(isinstance(resolve(p), Huey) for p in paths["app"])
    assert all(isinstance(resolve(p), TaskWrapper) for p in paths["task"])
    for path in paths["hook"]:
        assert len(inspect.signature(resolve(path)).parameters) in (1, 3), path


def test_each_instance_has_its_own_huey(demo):
    names = [demo[n].huey.name for n in ("emails", "reports", "webhooks")]
    assert names == ["emails", "reports", "webhooks"]


def test_tasks_run_eagerly(demo, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "relay.test")
    assert (
        demo["emails"].send_welcome("ada@example.com")
        == "welcome mail to ada@example.com via relay.test"
    )
    assert demo["reports"].monthly_total([19.99, 5.01, 75.0]) == 100.0
    assert demo["reports"].nightly_rollup() == "rolled up"
    assert demo["emails"].purge_bounces() == 0
    assert (
        demo["webhooks"].deliver("https://example.com/h", "order.paid")
        == "order.paid -> https://example.com/h"
    )
    with pytest.raises(ValueError, match="non-https"):
        demo["webhooks"].deliver("http://example.com/h", "order.paid")


def test_periodic_task_is_due_every_minute(demo):
    digests = demo["emails"].send_queued_digests
    assert issubclass(digests.task_class, PeriodicQueueTask)
    minute = datetime.datetime(2024, 5, 1, 12, 0)
    assert all(digests.task_class.is_due(minute + datetime.timedelta(minutes=m)) for m in range(60))


def test_hooks_log_each_task_and_its_outcome(demo, caplog):
    emails, hooks = demo["emails"], demo["hooks"]
    emails.huey.register_pre_execute("audit", hooks.audit)
    emails.huey.register_post_execute("record_outcome", hooks.record_outcome)
    try:
        with caplog.at_level(logging.INFO, logger="demo.hooks"):
            emails.send_welcome("ada@example.com")
            with pytest.raises(TypeError):
                emails.send_welcome()
    finally:
        emails.huey.unregister_pre_execute("audit")
        emails.huey.unregister_post_execute("record_outcome")
    lines = [r.getMessage() for r in caplog.records if r.name == "demo.hooks"]
    assert len(lines) == 4
    assert lines[0].startswith("start demo.emails.send_welcome")
    assert lines[1].endswith(": ok")
    assert "failed: TypeError" in lines[3]
    assert hooks._started == {}


# -- end to end: the commands the README gives, as a user runs them ----------------------


def run(*argv: object, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not true within {timeout}s: {condition}"
        time.sleep(0.2)
    return result


def processes_under(directory: Path) -> list[str]:
    """Live processes whose command line mentions ``directory`` (supervisord, consumers
    and their worker processes all do)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(directory) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def on_private_redis(text: str, server: Any) -> str:
    """Point every redis:// URL in a manifest at the test's redis-server, databases
    shifted by 10 so they meet no other test's."""
    url = re.compile(r"redis://[\w.]+:6379/(\d+)")
    return url.sub(lambda m: f"redis://{server.host}:{server.port}/{int(m[1]) + 10}", text)


def flush_private_databases(text: str, server: Any) -> None:
    for db in re.findall(rf"redis://{re.escape(server.host)}:{server.port}/(\d+)", text):
        redis.Redis(host=server.host, port=server.port, db=int(db)).flushdb()


@contextlib.contextmanager
def short_directory() -> Iterator[Path]:
    """A fresh directory with a short path: supervisord's socket path must fit in 100 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="hq-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with short_directory() as directory:
        yield directory


@pytest.fixture
def examples_copy(short_dir: Path) -> Path:
    """examples/manifests copied as a user has it (no state from earlier runs)."""
    copy = short_dir / "manifests"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".hueyctl*", "__pycache__"))
    return copy


def environment(short_dir: Path, **extra: str) -> dict[str, str]:
    """This venv's commands first on PATH and a private index of deployments."""
    path = f"{HUEYCTL.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "HUEYCTL_STATE_HOME": str(short_dir / "home"), **extra}


@contextlib.contextmanager
def deployed(manifest: Path, env: dict[str, str]) -> Iterator[subprocess.CompletedProcess]:
    """`hueyctl up MANIFEST` for the block, `hueyctl down MANIFEST` after it (even when
    the block fails, so no supervisord outlives the test)."""
    up = run(HUEYCTL, "up", manifest, env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield up
    finally:
        down = run(HUEYCTL, "down", manifest, env=env)
    assert down.returncode == 0, down.stdout + down.stderr


def all_running(status: subprocess.CompletedProcess) -> dict[str, str]:
    assert status.returncode == 0, status.stdout + status.stderr
    return {row["instance"]: row["state"] for row in json.loads(status.stdout)}


@pytest.mark.slow
def test_quickstart_runs_end_to_end(examples_copy, short_dir):
    env = environment(short_dir)
    manifest = examples_copy / "quickstart.yaml"
    with deployed(manifest, env) as up:
        assert "RUNNING" in up.stdout
        # As the README runs it: no argument binds the quickstart beside the script.
        demo = run(sys.executable, examples_copy / "enqueue_demo.py", env=env)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.splitlines() == [
            "emails.send_welcome -> 'welcome mail to ada@example.com via smtp.example.test'",
            "reports.monthly_total -> 100.0",
        ]
        # No manifest given: status and logs find the deployment `up` recorded.
        status = run(HUEYCTL, "status", "--json", env=env)
        assert all_running(status) == {"emails": "RUNNING", "reports": "RUNNING"}
        logs = run(HUEYCTL, "logs", "emails", "-n", "200", env=env)
        assert "demo.hooks: start demo.emails.send_welcome" in logs.stdout, logs.stdout
        assert (examples_copy / ".hueyctl" / "quickstart" / "emails.db").exists()
    assert processes_under(short_dir) == []


@pytest.mark.slow
def test_multi_redis_runs_end_to_end(examples_copy, short_dir, redis_server):
    redis_server.start()
    manifest = examples_copy / "multi-redis.yaml"
    text = on_private_redis(manifest.read_text(), redis_server)
    manifest.write_text(text)
    flush_private_databases(text, redis_server)
    secret = f"s3cret-{uuid.uuid4().hex}"
    env = environment(short_dir, SMTP_PASSWORD=secret)
    with deployed(manifest, env):
        demo = run(sys.executable, examples_copy / "enqueue_demo.py", manifest, env=env)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.splitlines() == [
            "emails.send_welcome -> 'welcome mail to ada@example.com via smtp.example.test'",
            "reports.monthly_total -> 100.0",
            "webhooks.deliver -> 'order.paid -> https://example.com/hook'",
        ]
        status = run(HUEYCTL, "status", manifest, "--json", env=env)
        assert all_running(status) == dict.fromkeys(("emails", "reports", "webhooks"), "RUNNING")
        workers = {row["instance"]: row["workers"] for row in json.loads(status.stdout)}
        assert workers == {"emails": 8, "reports": 2, "webhooks": 16}
        # The secret reaches the consumer's environment but no file hueyctl writes.
        state = examples_copy / ".hueyctl" / "shop"
        for path in (p for p in state.rglob("*") if p.is_file() and p.suffix != ".sock"):
            assert secret not in path.read_text(errors="replace"), path
    assert processes_under(short_dir) == []
