"""The test Django project, copied per use so each run has its own database and queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Django set up in this process with the test project, its tables created.

    Django configures once per process, so every in-process test shares this project.
    """
    import django
    from django.core.management import call_command

    project = copy_project(tmp_path_factory.mktemp("django"))
    patch = pytest.MonkeyPatch()
    for key, value in project_env(project).items():
        if key != "PYTHONPATH":
            patch.setenv(key, value)
    patch.syspath_prepend(str(project))
    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0)
    yield project
    patch.undo()
