"""A deployment's supervisord: start it, drive it over XML-RPC on its unix socket, stop it.

Every decision branches on supervisord's fault codes and process states, never on
message text; every wait is a bounded poll on a condition.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import Faults, SupervisorTransport, UnixStreamHTTPConnection

from hueyctl import statedir
from hueyctl.errors import OperationFailed
from hueyctl.lifeline import parent_death_signal
from hueyctl.state import Paths
from hueyctl.statedir import STATE_DIR_ENV

POLL = 0.1
START_TIMEOUT = 20.0
# A process is up once RUNNING (supervisord waits startsecs for it) and has failed
# once FATAL, BACKOFF or EXITED; any other state is on its way to one or the other.
SETTLED_STATES = ("RUNNING", "FATAL", "BACKOFF", "EXITED")
# How long supervisord gets to say whether it runs: a stopped or stuck one must fail
# the command, not hang it.
ANSWER_TIMEOUT = 20.0


def poll(condition: Callable[[], Any], timeout: float, interval: float = POLL) -> Any:
    """Call ``condition`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def _call(method: Callable[..., Any], *args: Any, ignore: tuple[int, ...] = ()) -> Any:
    """Call supervisord; a fault whose code is in ``ignore`` returns None, any other fails."""
    try:
        return method(*args)
    except xmlrpc.client.Fault as fault:
        if fault.faultCode in ignore:
            return None
        raise OperationFailed(f"supervisord: {fault.faultString}") from None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class Supervisor:
    """The supervisord of one state directory."""

    def __init__(self, where: Paths, foreground: bool = False) -> None:
        self.where = where
        # In the foreground, supervisord runs with --nodaemon as this process's child.
        self.foreground = foreground
        self.child: subprocess.Popen | None = None

    @property
    def rpc(self) -> Any:
        """supervisord's API on a new connection (one a restart cannot leave half-used)."""
        transport = SupervisorTransport(None, None, f"unix://{self.where.socket}")
        # The host is ignored: the transport connects to the socket.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def state(self) -> str | None:
        """What supervisord says it is doing ("RUNNING", "SHUTDOWN"...); None: no answer.
        OperationFailed if it takes the connection but does not answer (stopped, stuck)."""
        if not self.where.socket.exists():
            return None
        transport = SupervisorTransport(None, None, f"unix://{self.where.socket}")
        transport._get_connection = lambda: _BoundedConnection(str(self.where.socket))
        probe = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor
        try:
            state = _call(probe.getState, ignore=(Faults.SHUTDOWN_STATE,))
        except TimeoutError:
            raise OperationFailed(
                f"supervisord did not answer on {self.where.socket} in {ANSWER_TIMEOUT:.0f}s: "
                f"it is stopped or stuck (pid {self.pid()}; its log: {self.where.logfile})"
            ) from None
        except (OSError, http.client.HTTPException):
            return None
        return "SHUTDOWN" if state is None else state["statename"]

    def is_running(self) -> bool:
        """True when a supervisord answers on the socket and is not shutting down."""
        return self.state() == "RUNNING"

    def start(self) -> None:
        """Start supervisord on the rendered config and wait until it answers. In the
        foreground it stays our child, in its own session so that only we signal it,
        and its log is echoed on our stderr."""
        command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.where.config)]
        output = self.where.root / "supervisord.start.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(statedir.open_private(output, flags), "wb") as out:
            self.child = subprocess.Popen(
                [*command, "--nodaemon"] if self.foreground else command,
                # The launcher reads the manifest again: same state directory as ours.
                env={**os.environ, STATE_DIR_ENV: str(self.where.root)},
                stdin=subprocess.DEVNULL,
                stdout=2 if self.foreground else out,  # 2: our stderr
                stderr=subprocess.STDOUT,
                start_new_session=self.foreground,
                # supervisord opens its log before it applies its umask setting, and in
                # the foreground never applies it: every file it creates is 0600.
                umask=0o077,
                # If we are killed, it stops its consumers and ends instead of living on.
                preexec_fn=_end_with_us if self.foreground else None,
            )
        if self.foreground:  # it runs on: wait until it answers or exits
            poll(lambda: self.child.poll() is not None or self.is_running(), START_TIMEOUT)
            failed = self.child.poll() is not None or not self.is_running()
        else:  # its first process exits once the daemon has forked
            code = self.child.wait(START_TIMEOUT)
            failed = code != 0 or not poll(self.is_running, START_TIMEOUT)
        if failed:
            detail = output.read_text(errors="replace") + _tail_file(self.where.logfile)
            code = self.child.poll()
            why = f"exit status {code}" if code is not None else f"no answer in {START_TIMEOUT}s"
            raise OperationFailed(f"supervisord did not start ({why})", detail)

    def reload(self) -> None:
        """Make supervisord reread its config (the groups change only when asked)."""
        _call(self.rpc.reloadConfig)

    def add(self, group: str) -> None:
        _call(self.rpc.addProcessGroup, group, ignore=(Faults.ALREADY_ADDED,))

    def remove(self, group: str) -> None:
        """Stop a group gracefully (its stop wait applies) and forget it."""
        _call(self.rpc.stopProcessGroup, group, ignore=(Faults.BAD_NAME,))
        _call(self.rpc.removeProcessGroup, group, ignore=(Faults.BAD_NAME,))

    def start_process(self, name: str) -> None:
        _call(self.rpc.startProcess, name, False, ignore=(Faults.ALREADY_STARTED,))

    def stop_process(self, name: str) -> None:
        _call(self.rpc.stopProcess, name, True, ignore=(Faults.NOT_RUNNING,))

    def signal(self, name: str, signal: str) -> None:
        _call(self.rpc.signalProcess, name, signal)

    def processes(self) -> dict[str, dict[str, Any]]:
        """Every supervised process's info, keyed by its group (= instance) name."""
        return {info["group"]: info for info in self.rpc.getAllProcessInfo()}

    def wait_running(self, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll until each process is RUNNING or has failed; return its last info."""
        infos: dict[str, dict[str, Any]] = {}

        def settled() -> bool:
            for name in names:
                if infos.get(name, {}).get("statename") not in SETTLED_STATES:
                    infos[name] = self.rpc.getProcessInfo(name)
            return all(info["statename"] in SETTLED_STATES for info in infos.values())

        poll(settled, timeout)
        return infos

    def tail(
        self, name: str, stream: str = "stderr", offset: int = 0, length: int = 4000
    ) -> tuple[str, int]:
        """A process's stderr (or stdout) log from ``offset``, at most its last ``length``
        bytes, and the offset to read from next time; no log file reads as ""."""
        read = (
            self.rpc.tailProcessStderrLog if stream == "stderr" else self.rpc.tailProcessStdoutLog
        )
        found = _call(read, name, offset, length, ignore=(Faults.NO_FILE,))
        return (found[0], found[1]) if found else ("", offset)

    def shutdown(self, timeout: float) -> None:
        """Stop every consumer gracefully, then supervisord; return once its pid is gone."""
        pid = self.pid()
        try:
            _call(self.rpc.shutdown, ignore=(Faults.SHUTDOWN_STATE,))
        except (OSError, http.client.HTTPException):
            pass  # it went away between the probe and the call, or while answering
        if pid is not None and not poll(lambda: not pid_alive(pid), timeout):
            raise OperationFailed(f"supervisord (pid {pid}) is still running after {timeout}s")

    def in_foreground(self) -> bool:
        """Whether the running supervisord is the child of a `hueyctl up --foreground`."""
        pid = self.pid()
        try:
            return pid is not None and b"--nodaemon\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def pid(self) -> int | None:
        try:
            return int(self.where.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def _end_with_us() -> None:
    parent_death_signal(signal.SIGTERM)


def _tail_file(path: os.PathLike, length: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - length))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class _BoundedConnection(UnixStreamHTTPConnection):
    """supervisord's socket, where each read waits at most ANSWER_TIMEOUT."""

    def __init__(self, socket: str) -> None:
        super().__init__("localhost")
        self.socketfile = socket

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(ANSWER_TIMEOUT)
