"""A consumer's log read from its file: the last lines, then what follows, across rotation."""

from __future__ import annotations

from pathlib import Path

from hueyctl.logfiles import follow, tail


def test_tail_then_follow_across_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "alpha.err.log"
    log.write_text("one\ntwo\nthree\n")
    last, offset = tail(log, 2)
    assert last == ["two", "three"]
    assert tail(log, 0)[0] == []

    lines = follow(log, offset)
    with log.open("a") as f:
        f.write("four\n")
    assert next(lines) == "four\n"
    log.write_text("new\n")  # supervisord rotated it: the new file is shorter
    assert next(lines) == "new\n"
