"""One CLI, consistent: the same options everywhere, help on each, completion, --version."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hueyctl import state
from hueyctl.cli import app
from hueyctl.manifest import load
from hueyctl.output import duration, table

from .hueyctl_helpers import write_app, write_manifest

# Every command that reads a deployment (all but `init`).
READERS = (
    "validate render plan up down status restart reload logs revoke restore pending scheduled "
    "results errors"
).split()
# The commands whose subject is the deployment: they take it as an argument too.
SUBJECTS = ("validate", "render", "plan", "up", "down", "status")


def commands() -> dict[str, typer.core.TyperCommand]:
    return typer.main.get_command(app).commands


def test_every_command_that_reads_a_deployment_takes_the_same_options() -> None:
    for name in READERS:
        params = commands()[name].params
        options = {opt for p in params for opt in p.opts}
        assert {"-m", "--manifest", "-p", "--project", "--state-dir", "--json"} <= options, name
        takes_manifest_argument = any(p.name == "manifest" for p in params)
        assert takes_manifest_argument == (name in SUBJECTS), name


def test_every_argument_and_option_has_help_and_no_bare_type() -> None:
    runner = CliRunner()
    for name, command in {"": None, **commands()}.items():
        if command is not None:
            assert all(p.help for p in command.params), name
        shown = runner.invoke(app, [name, "--help"] if name else ["--help"]).stdout
        assert "<bool>" not in shown and "<str>" not in shown, shown


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"hueyctl {version('huey-ng')}\n"


@pytest.fixture
def two_recorded(tmp_path: Path, state_home: Path, fresh_imports: None) -> dict[str, Path]:
    """Two deployments `up` recorded (nothing runs), projects shop and blog."""
    paths = {}
    for project in ("shop", "blog"):
        write_app(tmp_path, f"{project}_emails", f"{project}-emails")
        write_app(tmp_path, f"{project}_reports", f"{project}-reports")
        paths[project] = write_manifest(
            tmp_path / f"{project}.yaml",
            f"""
            version: 1
            project: {project}
            state_dir: {project}-state
            instances:
              emails: {{app: "{project}_emails:huey", storage: "sqlite:///{project}-e.db"}}
              {project}-reports: {{app: "{project}_reports:huey", storage: "sqlite:///r.db"}}
            """,
        )
        state.record(load(paths[project]))
    return paths


def test_project_picks_a_recorded_deployment(hueyctl, two_recorded: dict[str, Path]) -> None:
    everything = json.loads(hueyctl("status", "--json").stdout)
    assert {r["project"] for r in everything} == {"shop", "blog"}
    blog = json.loads(hueyctl("status", "-p", "blog", "--json").stdout)
    assert [(r["project"], r["instance"]) for r in blog] == [
        ("blog", "emails"),
        ("blog", "blog-reports"),
    ]
    # "emails" is in both; -p says which.
    assert "which deployment?" in hueyctl("logs", "emails").stderr
    assert "no stderr log" in hueyctl("logs", "emails", "--project", "shop").stderr
    unknown = hueyctl("status", "-p", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "no deployment of project 'nope'; there are: blog, shop\n"


def test_manifest_as_argument_or_option(hueyctl, two_recorded: dict[str, Path]) -> None:
    shop = two_recorded["shop"]
    for args in ((shop,), ("-m", shop), (shop, "-m", shop), ("-p", "shop")):
        result = hueyctl("validate", *args)
        assert result.exit_code == 0 and result.stdout == f"{shop}: ok (2 instances)\n", args
    both = hueyctl("validate", shop, "-m", two_recorded["blog"])
    assert both.exit_code == 2 and "two manifests given" in both.stderr
    assert "give the manifest" in hueyctl("validate").stderr


def test_unknown_instance_is_named_as_such(hueyctl, two_recorded: dict[str, Path]) -> None:
    result = hueyctl("logs", "emials", "-p", "shop")
    assert result.exit_code == 2
    assert (
        result.stderr == f"{two_recorded['shop']}: no instance 'emials'; did you mean 'emails'?\n"
    )
    anywhere = hueyctl("logs", "nothere")
    assert anywhere.exit_code == 2 and "no instance 'nothere' in any recorded" in anywhere.stderr


def complete(*words: str) -> list[str]:
    """What bash completion offers for the last of ``words``."""
    env = {
        "_HUEYCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(("hueyctl", *words)),
        "COMP_CWORD": str(len(words)),
    }
    result = CliRunner().invoke(app, [], prog_name="hueyctl", env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_instance_names_complete_in_the_shell(two_recorded: dict[str, Path]) -> None:
    assert complete("logs", "-m", str(two_recorded["shop"]), "") == ["emails", "shop-reports"]
    assert complete("restart", "-p", "blog", "b") == ["blog-reports"]
    assert complete("pending", "") == ["blog-reports", "emails", "shop-reports"]
    assert complete("revoke", "--instance", "sh") == ["shop-reports"]


def test_uptime_reads_as_a_duration() -> None:
    assert [duration(s) for s in (None, 0, 59.9, 61, 3 * 3600 + 125, 2 * 86400 + 4 * 3600)] == [
        "-",
        "0s",
        "59s",
        "1m 01s",
        "3h 02m",
        "2d 04h",
    ]
    assert table([{"instance": "a", "uptime": 3725.0}]).splitlines()[1] == "a         1h 02m"
