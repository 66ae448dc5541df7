"""A deployment's supervisord: start it, drive it over XML-RPC on its unix socket, stop it.

Every decision branches on supervisord's fault codes and process states, never on
message text; every wait is a bounded poll on a condition.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterable
from typing import Any

from supervisor.xmlrpc import Faults, SupervisorTransport

from hueyctl.errors import OperationFailed
from hueyctl.state import Paths

POLL = 0.1
START_TIMEOUT = 20.0
# A process is up once RUNNING (supervisord waits startsecs for it) and has failed
# once it is in one of these; any other state is on its way to one or the other.
FAILED_STATES = ("FATAL", "BACKOFF", "EXITED")


def poll(condition: Callable[[], Any], timeout: float, interval: float = POLL) -> Any:
    """Call ``condition`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def _ignore(fault: xmlrpc.client.Fault, *codes: int) -> None:
    if fault.faultCode not in codes:
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

    def __init__(self, where: Paths) -> None:
        self.where = where

    @property
    def rpc(self) -> Any:
        """supervisord's API on a new connection (one a restart cannot leave half-used)."""
        transport = SupervisorTransport(None, None, f"unix://{self.where.socket}")
        # The host is ignored: the transport connects to the socket.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def is_running(self) -> bool:
        """True when a supervisord answers on the socket and is not shutting down."""
        if not self.where.socket.exists():
            return False
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, http.client.HTTPException):
            return False
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.SHUTDOWN_STATE)
            return False

    def start(self) -> None:
        """Start supervisord on the rendered config and wait until it answers."""
        output = self.where.root / "supervisord.start.log"
        with open(output, "wb") as out:
            code = subprocess.call(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.where.config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=START_TIMEOUT,
            )
        if code != 0 or not poll(self.is_running, START_TIMEOUT):
            detail = output.read_text(errors="replace") + _tail_file(self.where.logfile)
            raise OperationFailed(f"supervisord did not start (exit status {code})", detail)

    def reload(self) -> tuple[list[str], list[str], list[str]]:
        """Make supervisord reread its config: (added, changed, removed) group names."""
        try:
            added, changed, removed = self.rpc.reloadConfig()[0]
        except xmlrpc.client.Fault as fault:
            raise OperationFailed(
                f"supervisord cannot reread its config: {fault.faultString}"
            ) from None
        return added, changed, removed

    def add(self, group: str) -> None:
        try:
            self.rpc.addProcessGroup(group)
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.ALREADY_ADDED)

    def remove(self, group: str) -> None:
        """Stop a group gracefully (its stop wait applies) and forget it."""
        try:
            self.rpc.stopProcessGroup(group)
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.BAD_NAME)
            return
        try:
            self.rpc.removeProcessGroup(group)
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.BAD_NAME)

    def start_process(self, name: str) -> None:
        try:
            self.rpc.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.ALREADY_STARTED)

    def stop_process(self, name: str) -> None:
        try:
            self.rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.NOT_RUNNING)

    def signal(self, name: str, signal: str) -> None:
        try:
            self.rpc.signalProcess(name, signal)
        except xmlrpc.client.Fault as fault:
            _ignore(fault)

    def processes(self) -> dict[str, dict[str, Any]]:
        """Every supervised process's info, keyed by its group (= instance) name."""
        return {info["group"]: info for info in self.rpc.getAllProcessInfo()}

    def info(self, name: str) -> dict[str, Any]:
        return self.rpc.getProcessInfo(name)

    def wait_running(self, names: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll until each process is RUNNING or has failed; return its last info."""
        pending = set(names)
        final: dict[str, dict[str, Any]] = {}

        def settled() -> bool:
            for name in list(pending):
                info = self.info(name)
                if info["statename"] == "RUNNING" or info["statename"] in FAILED_STATES:
                    final[name] = info
                    pending.discard(name)
            return not pending

        poll(settled, timeout)
        for name in pending:
            final[name] = self.info(name)
        return final

    def tail(self, name: str, length: int = 4000, stream: str = "stderr") -> str:
        """The last ``length`` bytes of a process's stderr (or stdout) log."""
        read = (
            self.rpc.tailProcessStderrLog if stream == "stderr" else self.rpc.tailProcessStdoutLog
        )
        try:
            return read(name, 0, length)[0]
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.NO_FILE)
            return ""

    def follow(self, name: str, stream: str, offset: int) -> tuple[str, int]:
        """Log bytes written since ``offset`` and the offset to ask from next time."""
        read = (
            self.rpc.tailProcessStderrLog if stream == "stderr" else self.rpc.tailProcessStdoutLog
        )
        text, offset, _overflow = read(name, offset, 65536)
        return text, offset

    def shutdown(self, timeout: float) -> None:
        """Stop every consumer gracefully, then supervisord; return once its pid is gone."""
        pid = self.pid()
        try:
            self.rpc.shutdown()
        except xmlrpc.client.Fault as fault:
            _ignore(fault, Faults.SHUTDOWN_STATE)
        except (OSError, http.client.HTTPException):
            pass  # it went away between the probe and the call, or while answering
        if pid is not None and not poll(lambda: not pid_alive(pid), timeout):
            raise OperationFailed(f"supervisord (pid {pid}) is still running after {timeout}s")

    def pid(self) -> int | None:
        try:
            return int(self.where.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def _tail_file(path: os.PathLike, length: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - length))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
