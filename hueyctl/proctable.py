"""A deployment's processes as the process table shows them, whether supervisord answers or not.

hueyctl starts supervisord with the state directory in its environment
(``HUEYCTL_STATE_DIR``), which every consumer inherits, so they are found even after a
killed supervisord or a deleted state directory left nothing else naming them. Read from
``/proc``: elsewhere nothing is found. Only processes of hueyctl's own user are readable.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from hueyctl.render import PROGRAM_ENV
from hueyctl.statedir import STATE_DIR_ENV
from hueyctl.supervisor import pid_alive, poll

SUPERVISORD = "supervisord"
CONSUMER = "consumer"
PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    """supervisord or a consumer (``instance`` names its program: the instance, or one of
    its replicas) of one deployment."""

    pid: int
    role: str
    parent: int
    instance: str | None = None


def find(state_dir: Path) -> list[Process]:
    """The live supervisord and consumers started for ``state_dir``, lowest pid first."""
    marker = f"{STATE_DIR_ENV}={state_dir}".encode()
    found = []
    for entry in PROC.glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if marker not in environ:
                continue
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            # The parent pid follows the state letter, after the ")" ending the name.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # gone meanwhile, or another user's
            continue
        process = _identify(int(entry.name), parent, argv, _program(environ))
        if process is not None and pid_alive(process.pid):
            found.append(process)
    return sorted(found, key=lambda p: p.pid)


def _identify(pid: int, parent: int, argv: list[str], program: str | None) -> Process | None:
    """supervisord runs as ``python -m supervisor.supervisord``, a consumer as
    ``python -m hueyctl.launch MANIFEST INSTANCE`` (named by its ``program``, which tells
    replicas apart); anything else is not ours to stop."""
    if "supervisor.supervisord" in argv:
        return Process(pid, SUPERVISORD, parent)
    if "hueyctl.launch" in argv[:3]:
        rest = argv[argv.index("hueyctl.launch") + 1 :]
        return Process(pid, CONSUMER, parent, program or (rest[1] if len(rest) > 1 else None))
    return None


def _program(environ: list[bytes]) -> str | None:
    prefix = f"{PROGRAM_ENV}=".encode()
    found = [item[len(prefix) :] for item in environ if item.startswith(prefix)]
    return found[0].decode(errors="replace") if found else None


def stop(processes: list[Process], timeout: float) -> list[Process]:
    """Stop them gracefully: supervisord with SIGTERM (it stops its consumers as `down`
    does), a consumer without one with SIGINT (a second SIGINT would stop it at once);
    return those alive after ``timeout``."""
    supervisords = {p.pid for p in processes if p.role == SUPERVISORD}
    for process in processes:
        if process.parent in supervisords:
            continue
        graceful = signal.SIGTERM if process.role == SUPERVISORD else signal.SIGINT
        try:
            os.kill(process.pid, graceful)
        except ProcessLookupError:
            pass
    return wait_gone(processes, timeout)


def wait_gone(processes: list[Process], timeout: float) -> list[Process]:
    """Wait until they have ended, at most ``timeout``; those still alive."""

    def alive() -> list[Process]:
        return [p for p in processes if pid_alive(p.pid)]

    poll(lambda: not alive(), timeout)
    return alive()


def describe(processes: list[Process]) -> str:
    """``supervisord (pid 12), emails (pid 14)``."""
    return ", ".join(f"{p.instance or p.role} (pid {p.pid})" for p in processes)
