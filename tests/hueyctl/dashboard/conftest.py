"""A dashboard server in a thread, over a deployment of one SQLite instance."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hueyctl.dashboard.guard import Guard
from hueyctl.dashboard.server import Dashboard
from hueyctl.manifest import load

from ..hueyctl_helpers import write_app, write_manifest
from .dashboard_helpers import SECRET


@pytest.fixture
def project(tmp_path: Path, fresh_imports: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One SQLite instance with a periodic task, and a secret in its environment."""
    monkeypatch.setenv("DASH_API_KEY", SECRET)
    write_app(tmp_path, "dash_app", "dash")
    return write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: dash
        env: {API_KEY: "${DASH_API_KEY}"}
        instances:
          a:
            app: "dash_app:huey"
            storage: "sqlite:///a.db"
            schedules:
              nightly: {task: "dash_app:nightly", cron: "30 3 * * *"}
        """,
    )


@pytest.fixture
def serve(project: Path) -> Iterator[Callable[..., Dashboard]]:
    """``serve(host="127.0.0.1", token=None)`` starts a dashboard on a free port."""
    servers: list[Dashboard] = []

    def start(host: str = "127.0.0.1", token: str | None = None) -> Dashboard:
        server = Dashboard(host, 0, lambda: [load(project)], Guard(host, token))
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
