"""The launcher supervisord runs starts a consumer exactly as huey_consumer does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hueyctl import bind

from .hueyctl_helpers import write_manifest

pytestmark = pytest.mark.slow

APP = '''
from huey import Huey

huey = Huey("greenlets")


@huey.task()
def patched():
    """Whether this consumer's sockets yield to other greenlets."""
    from gevent import monkey

    return monkey.is_module_patched("socket") and monkey.is_module_patched("threading")
'''


def test_a_greenlet_instance_launched_by_hueyctl_is_monkey_patched(
    tmp_path: Path, fresh_imports: None
) -> None:
    (tmp_path / "green_app.py").write_text(APP)
    manifest = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: green
        instances:
          green: {app: "green_app:huey", storage: "sqlite:///green.db", worker_type: greenlet}
        """,
    )
    log = (tmp_path / "launch.log").open("w")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "hueyctl.launch", str(manifest), "green"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        bind(manifest)  # this process enqueues to the manifest's storage too
        result = sys.modules["green_app"].patched()
        assert result.get(blocking=True, timeout=30) is True
    finally:
        launcher.terminate()
        launcher.wait(30)
        log.close()
