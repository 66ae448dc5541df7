"""Fixtures for hueyctl: a CLI runner with a private state home, manifests and a test app."""

from __future__ import annotations

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

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run
