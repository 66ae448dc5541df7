"""The README and docs say only true things: their Python snippets run, their links stay
in the repository, and every ``hueyctl`` and ``huey_consumer`` command they show exists
with the flags shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from huey.bin.huey_consumer import build_parser
from hueyctl.cli import app

from .test_deploy import hueyctl_calls, shell_lines

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("block", python_blocks(REPO / "README.md"))
def test_readme_python_snippets_run(block, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_two_setup_commands_exist_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "\n./scripts/demo\n" in readme and "\n./scripts/test\n" in readme
    assert "./scripts/test" in (REPO / ".ci" / "run").read_text()


def documented_calls() -> list[tuple[str, list[str]]]:
    return [
        (f"{path.name}:{n}", call)
        for path in DOCUMENTS
        for n, line in shell_lines(path)
        for call in hueyctl_calls(line)
    ]


@pytest.mark.parametrize("where,call", documented_calls(), ids=[w for w, _ in documented_calls()])
def test_documented_hueyctl_commands_exist(where, call):
    commands = dict(typer.main.get_command(app).commands)
    name, *args = call
    assert name in commands, f"{where}: hueyctl has no command {name!r}"
    options = {opt for param in commands[name].params for opt in param.opts}
    for arg in args:
        if arg.startswith("-"):
            assert arg.split("=")[0] in options, f"{where}: `hueyctl {name}` has no {arg}"


def test_documented_consumer_flags_exist():
    text = (REPO / "docs" / "consumer.md").read_text()
    documented = set(re.findall(r"`(-{1,2}[a-z][a-z-]*)", text))
    known = {opt for action in build_parser()._actions for opt in action.option_strings}
    assert documented and documented <= known
    assert {o for o in known if o.startswith("--")} - {"--help"} <= documented


MARKDOWN = sorted(p for p in REPO.rglob("*.md") if not {".venv", ".git"} & set(p.parts))


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_stays_inside_the_repository(path: Path) -> None:
    """A clone has nothing beside it: a link must name a file of this repository."""
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, mailto: ...
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{path.name}: {target} leaves the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"
