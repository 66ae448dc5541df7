"""The test Django project, copied per use so each run has its own database and queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .djhelpers import copy_project, project_env


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
