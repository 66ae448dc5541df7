"""hueyctl runs a Django project's consumer: ``django_settings:`` in the manifest, and the
web side reaches the manifest's storage through hueyctl.bind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hueyctl import deployment
from hueyctl.manifest import load

from ..huey.contrib.djhelpers import copy_project, manage
from .hueyctl_helpers import write_manifest

MANIFEST = """
version: 1
project: djp
instances:
  site:
    django_settings: djproject.settings
    storage: "{storage}"
    workers: 2
    startsecs: 1
    env: {{DJPROJECT_DB: "{db}", DJPROJECT_HUEY_URL: "sqlite:///unused.db"}}
"""

ENQUEUE = """
import hueyctl
hueyctl.bind("{manifest}")
from notes.tasks import write_note
print(write_note("via hueyctl").get(True, 30))
"""


@pytest.fixture
def django_manifest(tmp_path: Path, redis_server, fresh_imports: None) -> Iterator[Path]:
    """The test Django project with a manifest beside manage.py, its queue on Redis."""
    project = copy_project(tmp_path)
    redis_server.start()
    redis_server.flushdb()
    text = MANIFEST.format(storage=redis_server.url, db=project / "db.sqlite3")
    path = write_manifest(project / "hueyctl.yaml", text)
    yield path
    deployment.down(load(path))


def test_manifest_reads_django_settings_and_defaults_the_app(django_manifest: Path) -> None:
    instance = load(django_manifest).instance("site")
    assert (instance.django_settings, instance.app) == (
        "djproject.settings",
        "huey.contrib.djhuey:HUEY",
    )


@pytest.mark.slow
def test_up_runs_the_django_consumer_on_the_manifest_storage(hueyctl, django_manifest) -> None:
    project = django_manifest.parent
    manage(project, "migrate", "--run-syncdb", "-v", "0")
    result = hueyctl("up", django_manifest, "--json")
    assert result.exit_code == 0, result.output
    assert [(r["instance"], r["state"]) for r in json.loads(result.stdout)] == [("site", "RUNNING")]
    # The web side's settings name another queue; binding moves it to the manifest's.
    out = manage(project, "shell", "-c", ENQUEUE.format(manifest=django_manifest))
    assert out.strip().splitlines()[-1] == "1"
    rows = manage(
        project, "shell", "-c", "from notes.models import Note; print(Note.objects.count())"
    )
    assert rows.strip().splitlines()[-1] == "1"
    assert not (project / "huey.db").exists()


def test_validate_reports_a_settings_module_that_cannot_be_found(hueyctl, django_manifest) -> None:
    text = django_manifest.read_text().replace("djproject.settings", "djproject.no_settings")
    write_manifest(django_manifest, text)
    result = hueyctl("validate", django_manifest, "--check-imports")
    assert result.exit_code == 2
    assert "instances.site.django_settings" in result.output
    assert "cannot import 'djproject.no_settings'" in result.output


def test_validate_accepts_a_django_instance(hueyctl, django_manifest) -> None:
    result = hueyctl("validate", django_manifest, "--check-imports", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["app"] == "huey.contrib.djhuey:HUEY"


def test_binding_in_a_running_django_keeps_it_and_refuses_another_project(django_manifest) -> None:
    project = django_manifest.parent
    code = (
        "from hueyctl.djangoapp import setup_django\n"
        "setup_django('djproject.settings')\n"  # already set up by manage.py: kept
        "try:\n"
        "    setup_django('othersite.settings')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = manage(project, "shell", "-c", code).strip().splitlines()[-1]
    assert out.startswith("BadInput Django is already set up with 'djproject.settings'")


@pytest.mark.slow
def test_up_refuses_a_django_project_that_cannot_start(hueyctl, django_manifest) -> None:
    settings = django_manifest.parent / "djproject" / "broken_settings.py"
    settings.write_text('raise RuntimeError("no database configured")\n')
    text = django_manifest.read_text().replace("djproject.settings", "djproject.broken_settings")
    write_manifest(django_manifest, text)
    result = hueyctl("up", django_manifest)
    assert result.exit_code != 0
    assert "cannot set Django up with 'djproject.broken_settings'" in result.output
    assert "RuntimeError: no database configured" in result.output
