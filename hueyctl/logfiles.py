"""A consumer's log, read from the files supervisord writes, so `hueyctl logs` works the
same whether supervisord runs or not (after a crash, that is when it matters most)."""

from __future__ import annotations

import datetime
import heapq
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from hueyctl import state
from hueyctl.errors import OperationFailed
from hueyctl.model import Manifest

# How far back the last lines are looked for, and how often a followed log is polled.
TAIL_BYTES = 65536
FOLLOW_POLL = 0.5
# The stream a consumer writes -> the suffix of the file supervisord keeps it in.
SUFFIXES = {"stdout": "out", "stderr": "err"}
# The consumer starts each record with its local time: "[2026-01-31 18:00:00,123] ...".
_STAMP = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def log_files(manifest: Manifest, stream: str, instance: str | None = None) -> dict[str, Path]:
    """The ``stdout`` or ``stderr`` log file of each consumer (each replica's) of
    ``instance``, or of every instance, that has one; OperationFailed when none has."""
    names = None if instance is None else [manifest.instance(instance).name]
    where = state.paths(manifest)
    paths = {name: where.log(name, SUFFIXES[stream]) for name in manifest.programs(names)}
    found = {name: path for name, path in paths.items() if path.is_file()}
    if not found:
        raise OperationFailed(
            f"{instance or manifest.project}: no {stream} log in {where.logs}: no consumer "
            f"has run since `hueyctl up {manifest.path}` created its state directory"
        )
    return found


def tail(
    path: Path, lines: int | None, since: datetime.datetime | None = None
) -> tuple[list[str], int]:
    """The last ``lines`` lines of ``path`` (all when None), only those of records
    written at or after ``since``, and the offset to follow the file from."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(0 if since or lines is None else max(0, size - TAIL_BYTES))
        text = f.read().decode("utf-8", "replace").splitlines()
    if since is not None:
        text = [line for when, line in records(text) if when >= _local(since)]
    if lines is None:
        return text, size
    return (text[-lines:] if lines > 0 else []), size


def tails(
    paths: Mapping[str, Path], lines: int | None, since: datetime.datetime | None = None
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """:func:`tail` of each instance's file: its lines, and the offsets to follow from."""
    read = {name: tail(path, lines, since) for name, path in paths.items()}
    return {n: last for n, (last, _) in read.items()}, {n: end for n, (_, end) in read.items()}


def records(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Each line with the time of the record it belongs to (a traceback's lines belong
    to the record above them), as sortable local-time text."""
    when = ""
    for line in lines:
        if match := _STAMP.match(line):
            when = match.group(1)
        yield when, line


def _local(moment: datetime.datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def merged(tails: Mapping[str, list[str]], prefixed: bool = True) -> list[str]:
    """The lines of one or several instances' logs in time order, each after its
    instance's name when ``prefixed``."""
    width = max(map(len, tails), default=0)
    streams = [
        [(when, _prefix(name, width, prefixed) + line) for when, line in records(lines)]
        for name, lines in tails.items()
    ]
    return [line for _, line in heapq.merge(*streams, key=lambda pair: pair[0])]


def follow(
    paths: Mapping[str, Path], offsets: Mapping[str, int], prefixed: bool = True
) -> Iterator[str]:
    """Whole lines written to any of ``paths`` after their offsets, as they come, each
    after its instance's name when ``prefixed`` (as `docker compose logs -f` shows them).
    A file that shrank was rotated by supervisord, and is read again from its start."""
    width = max(map(len, paths), default=0)
    offsets = dict(offsets)
    partial = dict.fromkeys(paths, "")
    while True:
        for name, path in paths.items():
            chunk, offsets[name] = _read_new(path, offsets[name])
            *complete, partial[name] = (partial[name] + chunk).split("\n")
            for line in complete:
                yield f"{_prefix(name, width, prefixed)}{line}\n"
        time.sleep(FOLLOW_POLL)


def _prefix(name: str, width: int, prefixed: bool) -> str:
    return f"{name.ljust(width)} | " if prefixed else ""


def _read_new(path: Path, offset: int) -> tuple[str, int]:
    """What ``path`` holds after ``offset`` (from its start if it shrank), and its end."""
    size = path.stat().st_size if path.exists() else 0
    if size < offset:
        offset = 0
    if size == offset:
        return "", offset
    with path.open("rb") as f:
        f.seek(offset)
        chunk = f.read(size - offset)
    return chunk.decode("utf-8", "replace"), offset + len(chunk)
