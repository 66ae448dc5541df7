"""Helpers for hueyctl's tests: a tiny app module and manifests written into tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

APP = '''
"""A tiny app for hueyctl's tests: each task appends a line to a file beside it."""
import os
from pathlib import Path

from huey import Huey

OUT = Path(__file__).with_name("done-{name}.txt")
huey = Huey("{name}")


@huey.task()
def record(word):
    with open(OUT, "a") as f:
        f.write(f"{{word}} {{os.getpid()}}\\n")
    return word


def nightly():
    record.call_local("nightly")


def audit(task):
    pass
'''


def write_app(directory: Path, module: str, name: str) -> None:
    """Write ``module.py`` (a Huey called ``name`` with a ``record`` task) into ``directory``."""
    (directory / f"{module}.py").write_text(APP.format(name=name))


def write_manifest(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path
