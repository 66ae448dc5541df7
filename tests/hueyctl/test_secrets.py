"""Looking and stopping need no secrets, secrets are never shown or stored, and every
failure to reach an instance is one line naming it, against real servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hueyctl import bind, deployment, state
from hueyctl.manifest import load
from hueyctl.supervisor import pid_alive

from ..conftest import RedisServer
from .hueyctl_helpers import write_app, write_manifest

# Every character that breaks a URL when written into it as it is.
PASSWORD = "s3/cr#t?@pw"

APP_NEEDING_ENV = '''
"""Reads its mode at import, as apps do; the manifest's env: sets it."""
import os

from huey import Huey

MODE = os.environ["APP_MODE"]
huey = Huey("secret-app")


@huey.task()
def echo(word):
    return f"{MODE}:{word}"
'''


def secret_project(directory: Path, project: str, env: str, redis: RedisServer) -> Path:
    """The app that reads APP_MODE at import, and a manifest with ``env`` whose instance
    ``alpha`` runs it on ``redis`` with the password read from ${REDIS_PASSWORD}."""
    (directory / "secret_app.py").write_text(APP_NEEDING_ENV)
    return write_manifest(
        directory / "m.yaml",
        f"""
        version: 1
        project: {project}
        env: {env}
        instances:
          alpha:
            app: "secret_app:huey"
            storage: "redis://:${{REDIS_PASSWORD}}@127.0.0.1:{redis.port}/0"
            startsecs: 1
        """,
    )


def shell(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """``hueyctl ARGS`` run as an operator would, from a shell with this environment
    (plus ``variables``)."""
    hueyctl = Path(sys.executable).with_name("hueyctl")
    env = {**os.environ, **variables}
    return subprocess.run([hueyctl, *args], capture_output=True, text=True, env=env, timeout=120)


def command(server: RedisServer, *words: str) -> bytes:
    """Send one command to ``server`` in RESP (safe for any bytes); its raw reply."""
    frame = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(frame.encode())
        return sock.recv(1024)


@pytest.fixture(scope="module")
def locked_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A private redis-server of its own that requires PASSWORD."""
    server = RedisServer(redis_server.binary, redis_server.workdir)
    server.start()
    assert command(server, "CONFIG", "SET", "requirepass", PASSWORD).startswith(b"+OK")
    yield server
    server.stop()


@pytest.fixture
def own_environ() -> Iterator[None]:
    """bind() sets the manifest's env in this process, as in a consumer: undo that."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A port whose service answers like a web server; the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_status_and_task_commands_note_each_failure_in_one_line(
    hueyctl, tmp_path: Path, locked_redis: RedisServer, not_redis: int, fresh_imports: None
) -> None:
    for module in ("good", "nodir", "notredis", "wrongpw"):
        write_app(tmp_path, f"app_{module}", module)
    (tmp_path / "app_broken.py").write_text("raise RuntimeError('no config file')\n")
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: failures
        instances:
          good: {{app: "app_good:huey", storage: "sqlite:///good.db"}}
          nodir: {{app: "app_nodir:huey", storage: "sqlite:///missing/dir/n.db"}}
          notredis: {{app: "app_notredis:huey", storage: "redis://127.0.0.1:{not_redis}/0"}}
          wrongpw:
            app: "app_wrongpw:huey"
            storage: "redis://:wrong@127.0.0.1:{locked_redis.port}/0"
          broken: {{app: "app_broken:huey", storage: "sqlite:///b.db"}}
        """,
    )
    result = hueyctl("status", path, "--json")
    assert result.exit_code == 3  # nothing runs; the table is printed all the same
    rows = {row["instance"]: row for row in json.loads(result.stdout)}
    assert rows["good"]["queued"] == 0 and "note" not in rows["good"]
    notes = {name: row.get("note") for name, row in rows.items() if name != "good"}
    assert notes == {
        "nodir": "nodir: cannot open the SQLite database: its directory is missing or not writable",
        "notredis": "notredis: the service on the storage port is not Redis (it answered "
        "something else)",
        "wrongpw": "wrongpw: storage authentication failed: check the password in the storage URL",
        "broken": f"{path}:10: instances.broken.app: cannot import 'app_broken:huey': "
        "RuntimeError: no config file",
    }
    table = hueyctl("status", path)
    assert table.exit_code == 3 and "Traceback" not in table.output
    assert table.stderr == "not every instance is RUNNING and reaching its storage\n"
    assert not (tmp_path / "missing").exists()

    # A task command on one instance fails in that one line, with its exit code.
    for instance, code in (("wrongpw", 1), ("notredis", 1), ("nodir", 1), ("broken", 2)):
        failed = hueyctl("pending", instance, "-m", path)
        assert (failed.exit_code, failed.stderr) == (code, notes[instance] + "\n"), instance
    # Across instances, the ones that answer are searched and the others named.
    missing = hueyctl("revoke", "no-such-id", "-m", path)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("task no-such-id is not pending or scheduled in any")
    assert f"; not searched: {notes['wrongpw']}" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1


def test_validate_masks_passwords_and_the_record_holds_no_secret(
    hueyctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: masked
        env: {API_KEY: literal-key-123, TOKEN: "${TOKEN}"}
        instances:
          a: {app: "app_a:huey", storage: "redis://:hunter2@127.0.0.1:6379/0"}
          b: {app: "app_b:huey", storage: "redis://ops:${REDIS_PASSWORD}@127.0.0.1:6379/1"}
          c:
            app: "app_c:huey"
            storage: "redis+sentinel://:hunter2@s1,s2/m/2?socket_timeout=3&sentinel_password=spw-77"
        """,
    )
    env = {"TOKEN": "tok-secret", "REDIS_PASSWORD": PASSWORD}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shown = hueyctl("validate", path, "--json")
    assert shown.exit_code == 0, shown.output
    assert {r["instance"]: r["storage"] for r in json.loads(shown.stdout)} == {
        "a": "redis://:***@127.0.0.1:6379/0",
        "b": "redis://ops:${REDIS_PASSWORD}@127.0.0.1:6379/1",
        "c": "redis+sentinel://:***@s1,s2/m/2?socket_timeout=3&sentinel_password=***",
    }
    model = load(path, environ=env)
    recorded = json.dumps([model.settings(i) for i in model.instances.values()])
    assert "hunter2" not in recorded and "literal-key-123" not in recorded
    assert "spw-77" not in recorded
    assert "${REDIS_PASSWORD}" in recorded and "${TOKEN}" in recorded
    # A secret that changes still changes the record, so `up` restarts the consumer.
    changed = load(
        write_manifest(tmp_path / "m.yaml", path.read_text().replace("hunter2", "hunter3")), env
    )
    assert changed.settings(changed.instances["a"]) != model.settings(model.instances["a"])


@pytest.mark.slow
def test_looking_and_stopping_need_no_secrets(
    hueyctl,
    tmp_path: Path,
    locked_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    fresh_imports: None,
    own_environ: None,
) -> None:
    env = '{APP_MODE: "on", SMTP_PASSWORD: "${SMTP_PASSWORD}", API_KEY: literal-key-123}'
    path = secret_project(tmp_path, "secrets", env, locked_redis)
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-secret")
    where = state.paths(load(path))
    try:
        up = hueyctl("up", path)
        assert up.exit_code == 0, up.output
        # The consumer reached Redis with a password holding / # ? @, and imported the
        # app with the manifest's env, as bind() did here.
        bind(path)
        from secret_app import echo

        assert echo("x").get(blocking=True, timeout=20) == "on:x"
        for written in (where.applied, where.config):
            text = written.read_text()
            assert PASSWORD not in text and "smtp-secret" not in text
            assert "literal-key-123" not in text

        # From a shell without the secrets: looking works; what needs storage says why.
        for name in ("REDIS_PASSWORD", "SMTP_PASSWORD"):
            monkeypatch.delenv(name)
        status = shell("status", "--json")
        assert status.returncode == 3
        [row] = json.loads(status.stdout)
        assert row["state"] == "RUNNING"
        assert row["note"].endswith(
            "instances.alpha.storage: ${REDIS_PASSWORD} is not set in the environment"
        )
        assert "consumer" in shell("logs", "alpha", "-n", "50").stdout
        pending = shell("pending", "alpha")
        assert pending.returncode == 2 and "${REDIS_PASSWORD} is not set" in pending.stderr

        # With the storage's variable only: the whole status, exit 0.
        healthy = shell("status", "-p", "secrets", "--json", REDIS_PASSWORD=PASSWORD)
        assert healthy.returncode == 0, healthy.stderr
        assert json.loads(healthy.stdout)[0]["queued"] == 0

        plan = shell("plan", str(path), "--json")
        assert plan.returncode == 0, plan.stderr
        assert json.loads(plan.stdout) == [{"instance": "alpha", "action": "keep", "fields": []}]
        assert "[program:alpha]" in shell("render", str(path)).stdout
        unchecked = shell("validate", str(path))  # it checks that `up` could start it
        assert unchecked.returncode == 2 and "${SMTP_PASSWORD} is not set" in unchecked.stderr
        assert shell("reload", "alpha").returncode == 0
        restarted = shell("restart", "alpha", "--json")
        assert restarted.returncode == 0, restarted.stderr
        assert json.loads(restarted.stdout)[0]["state"] == "RUNNING"
        supervisord = int(where.pidfile.read_text())
        down = shell("down", "--json")
        assert down.returncode == 0, down.stderr
        assert json.loads(down.stdout) == [{"project": "secrets", "stopped": True}]
        assert not pid_alive(supervisord)
        # supervisord is gone: the log is read from its file.
        after = shell("logs", "alpha", "-m", str(path), "-n", "50")
        assert after.returncode == 0 and "consumer" in after.stdout
    finally:
        deployment.down(load(path, resolve=False))


def test_a_password_holding_url_delimiters_reaches_redis(
    hueyctl,
    tmp_path: Path,
    locked_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    fresh_imports: None,
    own_environ: None,
) -> None:
    path = secret_project(tmp_path, "encoded", '{APP_MODE: "${MODE}"}', locked_redis)
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("MODE", "checked")
    assert "APP_MODE" not in os.environ
    # The app reads APP_MODE at import: --check-imports sets the manifest's env first.
    checked = hueyctl("validate", path, "--check-imports")
    assert checked.exit_code == 0, checked.output
    result = hueyctl("status", path, "--json")
    [row] = json.loads(result.stdout)
    assert row["queued"] == 0 and "note" not in row, row
    assert result.exit_code == 3  # reached, but no consumer runs


def test_a_rejected_storage_url_is_shown_without_its_password(hueyctl, tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: rejected
        instances:
          a: {app: "app_a:huey", storage: "postgres://ops:pw-123@db/tasks"}
        """,
    )
    result = hueyctl("validate", path)
    assert result.exit_code == 2
    assert "unknown storage URL 'postgres://ops:***@db/tasks'" in result.stderr
    assert "pw-123" not in result.output
