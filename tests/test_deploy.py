"""deploy/ holds what an operator copies: a systemd unit and container files.

Here the files are checked statically: they parse, say what the README says, and call
hueyctl only with commands, flags and files that exist; the unit also goes through
systemd-analyze. tests/test_deploy_run.py executes them.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from hueyctl import deployment, render
from hueyctl.cli import app

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "systemd" / "hueyctl@.service"
CHECK_UNIT = DEPLOY / "systemd" / "hueyctl-check@.service"
CHECK_TIMER = DEPLOY / "systemd" / "hueyctl-check@.timer"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
COMPOSE = DEPLOY / "container" / "compose.yaml"
CONTAINER_MANIFEST = DEPLOY / "container" / "manifest.yaml"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")


# -- readers ---------------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{path}: {line!r} before any [section]"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    """The single value of ``key``; a missing or repeated key fails the test."""
    values = section.get(key, [])
    assert len(values) == 1, f"expected exactly one {key}=, found {values}"
    return values[0]


def read_dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the pieces of ``path`` that hold shell commands. In
    Markdown: fenced blocks and `code spans`. Elsewhere: every line that is not a
    comment (for a systemd unit, the Exec*= values), and in comments the `code spans`
    and the lines indented as examples.
    """
    found: list[tuple[int, str]] = []
    fenced = False
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if path.suffix == ".md":
            if text.startswith("```"):
                fenced = not fenced
            pieces = [text] if fenced and not text.startswith("```") else code_spans(text)
        elif text.startswith("#"):
            pieces = code_spans(text[1:]) + ([text[1:]] if text[1:].startswith("  ") else [])
        elif path.suffix in (".service", ".timer"):
            pieces = [text.partition("=")[2]] if text.startswith("Exec") else []
        else:
            pieces = [text]
        found += [(n, piece) for piece in pieces]
    return found


def hueyctl_calls(line: str) -> list[list[str]]:
    """Every ``hueyctl COMMAND ...`` in a shell line or a JSON exec-form array."""
    try:
        words = json.loads(
            line.partition(" ")[2] if line.startswith(("CMD", "ENTRYPOINT")) else line
        )
    except ValueError:
        words = None
    if not isinstance(words, list):
        try:
            words = shlex.split(line.lstrip("$ "))
        except ValueError:
            words = line.split()
    calls = []
    for i, word in enumerate(words):
        rest = words[i + 1 :]
        # The program is "hueyctl" or ".../bin/hueyctl"; as a user or group name
        # (useradd, chown, sudo -u) it is followed by a flag, a path or nothing.
        program = word == "hueyctl" or str(word).endswith("/bin/hueyctl")
        if program and rest and re.fullmatch(r"[a-z][a-z-]*", rest[0]):
            end = next((j for j, w in enumerate(rest) if w in ("&&", "||", ";", "|")), len(rest))
            calls.append([str(w) for w in rest[:end]])
    return calls


def written_calls() -> list[tuple[str, list[str]]]:
    """(where, [command, args...]) for every hueyctl call written in deploy/ and examples/."""
    # The files git would keep: no state, databases or caches from a run.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy", "examples"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for path in sorted(REPO / name for name in listed):
        if path.exists():
            for n, line in shell_lines(path):
                for call in hueyctl_calls(line):
                    found.append((f"{path.relative_to(REPO)}:{n}", call))
    return found


@pytest.fixture(scope="module")
def commands() -> dict:
    """hueyctl's commands by name, as the typer app defines them."""
    return dict(typer.main.get_command(app).commands)


# -- systemd ---------------------------------------------------------------------------


def test_unit_runs_hueyctl_in_the_foreground_and_stops_it_with_sigterm():
    service = read_unit(UNIT)["Service"]
    assert one(service, "Type") == "simple"
    start = shlex.split(one(service, "ExecStart"))
    reload = shlex.split(one(service, "ExecReload"))
    assert Path(start[0]).is_absolute() and Path(start[0]).name == "hueyctl"
    assert start[1:3] == ["up", "--foreground"]
    assert reload[1] == "up" and "--foreground" not in reload
    # SIGTERM goes to hueyctl alone, which takes the consumers down itself.
    assert "ExecStop" not in service and one(service, "KillMode") == "mixed"
    # supervisord dying is a failure to restart from; a bad manifest (exit 2) is not.
    assert one(service, "Restart") == "on-failure"
    assert one(service, "RestartPreventExitStatus") == "2"
    # Both act on the same manifest, named after the unit's instance.
    assert start[-1] == reload[-1]
    assert "%i" in start[-1] and start[-1].endswith(".yaml")


def test_unit_runs_as_a_dedicated_user_with_secrets_in_a_file():
    service = read_unit(UNIT)["Service"]
    assert one(service, "User") not in ("", "root", "0")
    env_file = one(service, "EnvironmentFile").lstrip("-")
    assert env_file.startswith("/etc/") and "%i" in env_file
    for assignment in service.get("Environment", []):
        assert not any(word in assignment.upper() for word in SECRET_WORDS), assignment


def test_unit_is_hardened_and_can_write_only_its_state():
    service = read_unit(UNIT)["Service"]
    assert one(service, "NoNewPrivileges") == "yes"
    assert one(service, "ProtectSystem") == "strict"
    assert one(service, "PrivateTmp") == "yes"
    assert one(service, "ProtectHome") == "yes"
    # With ProtectSystem=strict the state directory is the one writable place, so
    # supervisord's files and hueyctl's index of deployments must live there, whatever
    # the manifest's state_dir says.
    state = one(service, "StateDirectory")
    assert "%i" in state and "ReadWritePaths" not in service
    assert f"HUEYCTL_STATE_DIR=%S/{state}" in service["Environment"]
    assert f"HUEYCTL_STATE_HOME=%S/{state}" in service["Environment"]
    assert read_unit(UNIT)["Install"]["WantedBy"] == ["multi-user.target"]


def longest_shutdown(*manifests: Path) -> float:
    return max(
        instance.get("shutdown_timeout", 30)
        for path in manifests
        for instance in yaml.safe_load(path.read_text())["instances"].values()
    )


def test_unit_stop_timeout_outlasts_hueyctl_down():
    service = read_unit(UNIT)["Service"]
    longest = longest_shutdown(
        CONTAINER_MANIFEST, *(REPO / "examples" / "manifests").glob("*.yaml")
    )
    # The longest `hueyctl down` waits before it gives up on supervisord.
    down = longest + render.STOP_MARGIN + deployment.SHUTDOWN_MARGIN
    assert int(one(service, "TimeoutStopSec")) > down


def test_check_unit_runs_hueyctl_check_on_the_deployment_and_restarts_it_when_critical():
    service = read_unit(CHECK_UNIT)["Service"]
    check = shlex.split(one(service, "ExecStart"))
    start = shlex.split(one(read_unit(UNIT)["Service"], "ExecStart"))
    assert check[1] == "check" and check[-1] == start[-1]
    assert one(service, "Type") == "oneshot" and one(service, "User") == one(
        read_unit(UNIT)["Service"], "User"
    )
    assert one(service, "SuccessExitStatus") == "1"  # a warning is logged, not a failure
    assert '"$$EXIT_STATUS" != 2' in one(service, "ExecStopPost")
    assert "systemctl try-restart hueyctl@%i.service" in one(service, "ExecStopPost")
    timer = read_unit(CHECK_TIMER)
    assert one(timer["Timer"], "OnUnitActiveSec") == "1min"
    assert timer["Unit"]["PartOf"] == ["hueyctl@%i.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify checks that ExecStart's program exists: point it at this venv's hueyctl.
    hueyctl = Path(sys.executable).with_name("hueyctl")
    for unit in (UNIT, CHECK_UNIT, CHECK_TIMER):
        text = re.sub(r"/[^\s=]*/bin/hueyctl\b", str(hueyctl), unit.read_text())
        (tmp_path / unit.name).write_text(text)
    names = ["hueyctl@shop.service", "hueyctl-check@shop.service", "hueyctl-check@shop.timer"]
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 even for unknown keys and bad values; it only warns on stderr.
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


# -- container ---------------------------------------------------------------------------


def test_image_runs_as_a_non_root_user():
    instructions = read_dockerfile(DOCKERFILE)
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [i for i, (op, _) in enumerate(instructions) if op == "USER"]
    cmd = max(i for i, (op, _) in enumerate(instructions) if op == "CMD")
    assert users and users[-1] < cmd
    assert instructions[users[-1]][1].split(":")[0] not in ("root", "0")


def test_image_copies_files_that_exist():
    # compose.yaml builds with the repository root as the context.
    for op, args in read_dockerfile(DOCKERFILE):
        if op in ("COPY", "ADD"):
            *sources, _ = [w for w in args.split() if not w.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: no such file"


def image_files(instructions: list[tuple[str, str]]) -> dict[str, Path]:
    """Path in the image -> the repository file COPY put there."""
    files, workdir = {}, "/"
    for op, args in instructions:
        if op == "WORKDIR":
            workdir = args
        elif op == "COPY":
            source, dest = args.split()[-2:]
            files[str(Path(workdir) / dest)] = REPO / source
    return files


def image_command() -> list[str]:
    instructions = read_dockerfile(DOCKERFILE)
    return json.loads(next(args for op, args in reversed(instructions) if op == "CMD"))


def test_image_runs_hueyctl_up_in_the_foreground_on_the_manifest_it_copies():
    instructions = read_dockerfile(DOCKERFILE)
    files = image_files(instructions)
    *command, manifest = image_command()
    assert command == ["hueyctl", "up", "--foreground", "--echo-logs"]
    assert files[manifest] == CONTAINER_MANIFEST
    assert files[str(Path(manifest).parent / "demo")] == REPO / "examples" / "manifests" / "demo"
    # One state directory throughout: the manifest's, the one made writable for the
    # user, and the healthcheck's.
    declared = yaml.safe_load(CONTAINER_MANIFEST.read_text()).get("state_dir", ".hueyctl")
    state_dir = str(Path(manifest).parent / declared)
    assert any(
        op == "RUN" and f"-o hueyctl -g hueyctl -m 0700 {state_dir}" in a for op, a in instructions
    )
    assert health_probe() == f"hueyctl check {manifest} || exit 1"


def health_probe() -> str:
    """The shell command of the image's HEALTHCHECK (Docker reserves its exit 2)."""
    healthcheck = next(args for op, args in read_dockerfile(DOCKERFILE) if op == "HEALTHCHECK")
    shell, flag, command = json.loads(healthcheck.partition("CMD ")[2])
    assert (shell, flag) == ("sh", "-c")
    return command


def test_compose_runs_redis_unpublished_and_the_consumers_after_it():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"redis", "consumers"}
    assert "ports" not in services["redis"], "Redis must not be published on the host"
    assert "healthcheck" in services["redis"]
    consumers = services["consumers"]
    context = (COMPOSE.parent / consumers["build"]["context"]).resolve()
    assert context == REPO
    assert (context / consumers["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert consumers["depends_on"]["redis"]["condition"] == "service_healthy"
    # The manifest the image runs reaches Redis by its service name.
    storages = [
        i["storage"] for i in yaml.safe_load(CONTAINER_MANIFEST.read_text())["instances"].values()
    ]
    assert storages and all(s.startswith("redis://redis:6379/") for s in storages)


def test_compose_takes_secrets_from_the_environment_only():
    consumers = yaml.safe_load(COMPOSE.read_text())["services"]["consumers"]
    for name, value in consumers.get("environment", {}).items():
        if any(word in name.upper() for word in SECRET_WORDS):
            assert re.fullmatch(r"\$\{\w+(:?[?-][^}]*)?\}", str(value)), (
                f"{name} is written in clear"
            )


def test_compose_passes_docker_stop_to_hueyctl_and_gives_tasks_time_to_finish():
    consumers = yaml.safe_load(COMPOSE.read_text())["services"]["consumers"]
    # An init as pid 1 forwards SIGTERM to hueyctl and reaps orphans.
    assert consumers["init"] is True
    grace = int(consumers["stop_grace_period"].rstrip("s"))
    # The longest hueyctl waits for supervisord, which waits shutdown_timeout +
    # STOP_MARGIN before it kills a consumer.
    down = longest_shutdown(CONTAINER_MANIFEST) + render.STOP_MARGIN + deployment.SHUTDOWN_MARGIN
    assert grace > down


# -- hueyctl calls ----------------------------------------------------------------------


def test_deploy_files_call_hueyctl():
    where = {w.split(":")[0] for w, _ in written_calls()}
    assert {str(UNIT.relative_to(REPO)), str(DOCKERFILE.relative_to(REPO))} <= where


@pytest.mark.parametrize("where,call", written_calls(), ids=[w for w, _ in written_calls()])
def test_every_hueyctl_call_written_exists(commands, where, call):
    name, *args = call
    assert name in commands, f"{where}: hueyctl has no command {name!r}"
    options = {opt for param in commands[name].params for opt in param.opts if opt[0] == "-"}
    for arg in args:
        if arg.startswith("-"):
            assert arg.split("=")[0] in options, f"{where}: `hueyctl {name}` has no option {arg}"
        elif arg.endswith(".yaml") and not Path(arg).is_absolute():
            assert (REPO / arg).exists(), f"{where}: {arg} does not exist"


def test_readme_manifest_snippets_validate(tmp_path, monkeypatch):
    snippets = re.findall(r"^```yaml\n(.*?)^```", (DEPLOY / "README.md").read_text(), re.S | re.M)
    assert snippets
    monkeypatch.setenv("SMTP_PASSWORD", "not-a-secret")
    for n, snippet in enumerate(snippets):
        path = tmp_path / f"snippet-{n}.yaml"
        path.write_text(snippet)
        result = CliRunner().invoke(app, ["validate", str(path)])
        assert result.exit_code == 0, result.output


def test_container_manifest_validates(monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "not-a-secret")
    result = CliRunner().invoke(app, ["validate", str(CONTAINER_MANIFEST)])
    assert result.exit_code == 0, result.output
