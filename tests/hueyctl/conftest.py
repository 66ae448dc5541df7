"""Fixtures for hueyctl: a CLI runner with a private state home, manifests and a test app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hueyctl.cli import app


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hueyctl's index of deployments, private to the test."""
    home = tmp_path / "state-home"
    monkeypatch.setenv("HUEYCTL_STATE_HOME", str(home))
    return home


@pytest.fixture
def hueyctl(state_home: Path):
    """Run ``hueyctl ARGS...`` in-process; returns typer's Result (exit_code, output)."""
    runner = CliRunner()

    def run(*args: object, answer: str | None = None):
        """``answer`` is what the user types at a prompt."""
        return runner.invoke(app, [str(a) for a in args], input=answer, catch_exceptions=False)

    return run


@pytest.fixture
def fresh_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bind() puts a manifest's directory on sys.path and imports its apps: undo both,
    so the next test imports its own copy of a module with the same name."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
