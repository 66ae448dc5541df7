"""Run the test Django project (djproject/) in its own directory: copy, environment, manage.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).with_name("djproject")


def copy_project(directory: Path) -> Path:
    """A copy of the test project in ``directory``; its files (db, queue) stay there."""
    target = directory / "djproject"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    return target


def project_env(project: Path, huey_url: str | None = None) -> dict[str, str]:
    """The environment a process of ``project`` runs with: its database and queue files."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "djproject.settings",
        "DJPROJECT_DB": str(project / "db.sqlite3"),
        "DJPROJECT_HUEY_URL": huey_url or f"sqlite:///{project / 'huey.db'}",
        "PYTHONPATH": str(project),
    }


def manage(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``manage.py ARGS`` of ``project`` to completion; its stdout."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=env or project_env(project),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
