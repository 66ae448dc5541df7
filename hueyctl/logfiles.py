"""A consumer's log, read from the files supervisord writes, so `hueyctl logs` works the
same whether supervisord runs or not (after a crash, that is when it matters most)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from hueyctl import state
from hueyctl.errors import OperationFailed
from hueyctl.model import Manifest

# How far back the last lines are looked for, and how often a followed log is polled.
TAIL_BYTES = 65536
FOLLOW_POLL = 0.5
# The stream a consumer writes -> the suffix of the file supervisord keeps it in.
SUFFIXES = {"stdout": "out", "stderr": "err"}


def log_file(manifest: Manifest, instance: str, stream: str) -> Path:
    """The file of ``instance``'s ``stdout`` or ``stderr``; OperationFailed if there is none."""
    path = state.paths(manifest).log(manifest.instance(instance).name, SUFFIXES[stream])
    if not path.is_file():
        raise OperationFailed(
            f"{instance}: no {stream} log at {path}: the consumer has not run since "
            f"`hueyctl up {manifest.path}` created its state directory"
        )
    return path


def tail(path: Path, lines: int) -> tuple[list[str], int]:
    """The last ``lines`` lines of ``path``, and the offset to follow it from."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - TAIL_BYTES))
        text = f.read().decode("utf-8", "replace")
    return (text.splitlines()[-lines:] if lines > 0 else []), size


def follow(path: Path, offset: int) -> Iterator[str]:
    """What is written to ``path`` after ``offset``, as it comes; a file that shrank was
    rotated by supervisord, and is read again from its start."""
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < offset:
            offset = 0
        if size > offset:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset += len(chunk)
            yield chunk.decode("utf-8", "replace")
        time.sleep(FOLLOW_POLL)
