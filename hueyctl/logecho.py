"""Copy what the consumers write to their log files onto a stream, a line at a time.

For `up --foreground --echo-logs` in a container or a systemd unit: `docker logs` and
journald see the tasks' logs, and the files stay, so `hueyctl logs` and `up`'s failure
report still read them.
"""

from __future__ import annotations

from typing import TextIO

from hueyctl.state import Paths
from hueyctl.supervisor import Supervisor

STREAMS = ("stdout", "stderr")
CHUNK = 65536


class LogEcho:
    """Each new complete line of each consumer's logs, written as ``instance | line``."""

    def __init__(self, where: Paths, out: TextIO) -> None:
        self.where = where
        self.out = out
        self.offsets: dict[tuple[str, str], int] = {}
        self.partial: dict[tuple[str, str], str] = {}

    def start(self, names: list[str]) -> None:
        """Skip what the logs of ``names`` hold now: earlier runs' lines were shown then."""
        for name in names:
            for stream in STREAMS:
                self.offsets[name, stream] = _size(self.where, name, stream)

    def step(self, sup: Supervisor) -> None:
        """Write the lines the consumers supervisord runs now completed since the last step."""
        for name in sup.processes():
            for stream in STREAMS:
                key = (name, stream)
                text, self.offsets[key] = sup.tail(name, stream, self.offsets.get(key, 0), CHUNK)
                *lines, self.partial[key] = (self.partial.get(key, "") + text).split("\n")
                for line in lines:
                    self.out.write(f"{name} | {line}\n")
        self.out.flush()


def _size(where: Paths, name: str, stream: str) -> int:
    try:
        return where.log(name, "out" if stream == "stdout" else "err").stat().st_size
    except FileNotFoundError:
        return 0
