"""Consumers' logs read from their files: the last lines, lines since a time, every
instance's merged in time order, then what follows, across rotation."""

from __future__ import annotations

import datetime
from pathlib import Path

from hueyctl.logfiles import follow, merged, tail, tails

ALPHA = """\
[2026-01-31 17:00:00,001] INFO MainProcess:MainThread huey.consumer: started
[2026-01-31 18:00:00,001] ERROR MainProcess:Worker-1 huey.execution: failed
Traceback (most recent call last):
RuntimeError: boom
[2026-01-31 18:00:05,001] INFO MainProcess:Worker-1 huey.execution: finished
"""
BETA = "[2026-01-31 17:30:00,001] INFO MainProcess:MainThread huey.consumer: started\n"


def local(text: str) -> datetime.datetime:
    """A time written in a log (local time), as the aware moment --since gives."""
    return datetime.datetime.fromisoformat(text).astimezone()


def test_tail_then_follow_across_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "alpha.err.log"
    log.write_text("one\ntwo\nthree\n")
    last, offset = tail(log, 2)
    assert last == ["two", "three"]
    assert tail(log, 0)[0] == []

    lines = follow({"alpha": log}, {"alpha": offset}, prefixed=False)
    with log.open("a") as f:
        f.write("four\nfi")
    assert next(lines) == "four\n"
    with log.open("a") as f:
        f.write("ve\n")  # a line is printed once it is whole
    assert next(lines) == "five\n"
    log.write_text("new\n")  # supervisord rotated it: the new file is shorter
    assert next(lines) == "new\n"


def test_since_keeps_whole_records_from_that_time_on(tmp_path: Path) -> None:
    log = tmp_path / "alpha.err.log"
    log.write_text(ALPHA)
    since, _ = tail(log, None, local("2026-01-31T18:00:00"))
    assert [line.split(" ")[0] for line in since] == [
        "[2026-01-31",
        "Traceback",
        "RuntimeError:",
        "[2026-01-31",
    ]
    assert tail(log, 1, local("2026-01-31T18:00:00"))[0] == [ALPHA.splitlines()[-1]]
    assert tail(log, None, local("2026-02-01T00:00:00"))[0] == []


def test_every_instance_merged_in_time_order_and_followed_with_its_name(
    tmp_path: Path,
) -> None:
    paths = {"alpha": tmp_path / "alpha.err.log", "b": tmp_path / "b.err.log"}
    paths["alpha"].write_text(ALPHA)
    paths["b"].write_text(BETA)
    last, offsets = tails(paths, 20)
    shown = merged(last)
    assert [line[:8] for line in shown[:3]] == ["alpha | ", "b     | ", "alpha | "]
    assert len(shown) == 6

    new = follow(paths, offsets)
    with paths["b"].open("a") as f:
        f.write("later\n")
    assert next(new) == "b     | later\n"
