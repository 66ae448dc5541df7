"""Bring a manifest's deployment up, change it, and take it down.

`up` validates, renders, checks the config with supervisor's own parser, checks that
each new or changed consumer can start, starts supervisord or has it reread, applies the
plan group by group, and waits until every consumer it touched is RUNNING; a consumer
that is not makes it fail with the log tail. :func:`foreground` does the same with
supervisord as a child it stops on SIGTERM. `up`, `down` and `restart` hold the
deployment's lock, and none of them ignores a consumer that runs outside supervisord.
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

from hueyctl import plan as planning
from hueyctl import preflight, proctable, render, state
from hueyctl.errors import BadInput, OperationFailed
from hueyctl.logecho import LogEcho
from hueyctl.model import Manifest
from hueyctl.supervisor import Supervisor, poll

# supervisord's graceful stop of all consumers waits at most the longest stop wait.
SHUTDOWN_MARGIN = 15.0
# How often the foreground loop looks at its flag and at supervisord.
FOREGROUND_POLL = 0.2
# How long a foreground supervisord whose parent was killed takes to notice.
ORPHAN_NOTICE = 5.0
# The state of a consumer alive without an answering supervisord.
UNSUPERVISED = "UNSUPERVISED"
# What `check` and `metrics` call an instance `hueyctl stop` stopped.
STOPPED_BY_HAND = "STOPPED (by hand)"


def desired(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Each consumer's (program's) settings: a replica has its instance's."""
    return {name: manifest.settings(i) for name, i in manifest.programs().items()}


def held(manifest: Manifest) -> set[str]:
    """The programs of the instances `hueyctl stop` stopped by hand."""
    stopped = state.read_held(state.paths(manifest))
    return {name for name, i in manifest.programs().items() if i.name in stopped}


def supervisor(manifest: Manifest, foreground: bool = False) -> Supervisor:
    return Supervisor(state.paths(manifest), foreground)


def changes(manifest: Manifest) -> list[planning.Change]:
    """What `up` would do, read from the state directory and the live supervisord."""
    sup = supervisor(manifest)
    running = {}
    if sup.is_running():
        running = {name: info["statename"] for name, info in sup.processes().items()}
    applied = state.read_applied(sup.where)
    if running and _server_changed(manifest):
        # supervisord applies its own settings only when it starts: every consumer restarts.
        applied = {name: {**old, "supervisord settings": "old"} for name, old in applied.items()}
    return planning.plan(desired(manifest), applied, running, held(manifest))


def _server_changed(manifest: Manifest) -> bool:
    """Whether supervisord's own settings (not its programs') differ from the config file."""
    config = state.paths(manifest).config
    if not config.exists():
        return False
    return render.server_part(config.read_text()) != render.server_part(render.render(manifest))


Applied = tuple[list[planning.Change], dict[str, dict[str, Any]]]


def up(manifest: Manifest, sup: Supervisor | None = None) -> Applied:
    """Apply the manifest; return the changes made and each instance's process info."""
    where = state.paths(manifest)
    text = render.render(manifest, state.read_held(where))
    render.check(text, where)
    where.create()
    with state.changing(where, manifest, "up"):
        return _up(manifest, sup or Supervisor(where), text)


def _up(manifest: Manifest, sup: Supervisor, text: str) -> Applied:
    where = sup.where
    started = not sup.is_running()
    if started:
        _refuse_second_supervisord(manifest)
        _refuse_strays(manifest, sup)
        kept = held(manifest)
        todo = [planning.Change(n, planning.ADD, held=n in kept) for n in manifest.programs()]
    else:  # computed before the new config is visible to supervisord
        todo = changes(manifest)
    touched = [
        c.instance for c in todo if c.action not in (planning.KEEP, planning.REMOVE) and not c.held
    ]
    preflight.check(manifest, sorted({manifest.programs()[name].name for name in touched}))
    if not started and _server_changed(manifest):
        if sup.in_foreground():  # its parent would take its exit for a crash
            raise OperationFailed(
                "supervisord's own settings changed, which takes a new supervisord: "
                "restart the `hueyctl up --foreground` that runs it"
            )
        sup.shutdown(_shutdown_timeout(manifest))
        started = True
    if not where.config.exists() or where.config.read_text() != text:
        state.write_atomic(where.config, text)
    state.write_snapshot(where, manifest)  # what the consumers started from now on read
    if started:
        sup.start()
    else:
        sup.reload()
        _apply(sup, todo)
    state.record(manifest)
    infos = sup.wait_running(touched, _wait_timeout(manifest, touched))
    state.write_applied(where, desired(manifest))
    _raise_if_failed(sup, infos)
    return todo, sup.processes()


def foreground(
    manifest: Manifest, show: Callable[[Applied], None], echo: LogEcho | None = None
) -> str:
    """`up` with supervisord as this process's child (``show`` gets what `up` returns),
    then run until SIGTERM or SIGINT and stop everything as `down` does; return what
    stopped it. Fails like `up`, or when supervisord dies, but leaves nothing running.
    ``echo``, if given, copies the consumers' log lines out meanwhile."""
    sup = supervisor(manifest, foreground=True)
    if sup.in_foreground():
        # The supervisord of a killed `up --foreground` got SIGTERM when it died (its
        # parent-death signal): it is stopping, and `up` waits until it has.
        poll(lambda: not sup.is_running(), ORPHAN_NOTICE)
    if sup.is_running():
        raise BadInput(
            f"{manifest.project}: supervisord is already running; use `hueyctl up` without "
            "--foreground, or `hueyctl down` first"
        )
    if echo is not None:
        echo.start(list(manifest.programs()))
    with _noting(signal.SIGTERM, signal.SIGINT) as received:
        try:
            show(up(manifest, sup))
            while not received:
                if echo is not None:
                    # supervisord may be going away; the next poll of it tells.
                    with contextlib.suppress(OSError, http.client.HTTPException):
                        echo.step(sup)
                code = sup.child.poll()
                if code == 0:  # stopped by `hueyctl down`
                    return "supervisord was stopped"
                if code is not None:
                    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else "failed"
                    raise OperationFailed(f"supervisord {how} (exit status {code})")
                time.sleep(FOREGROUND_POLL)
            return signal.Signals(received[0]).name
        finally:
            if sup.child is not None:
                _stop_child(manifest, sup.child)


@contextlib.contextmanager
def _noting(*signals: int) -> Iterator[list[int]]:
    """For the block, the handler of ``signals`` only notes them in the list it yields."""
    received: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in signals
    }
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop_child(manifest: Manifest, child: subprocess.Popen) -> None:
    """`down`, then reap supervisord; kill it if it is still there (then it is stuck)."""
    try:
        down(manifest)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def _refuse_second_supervisord(manifest: Manifest) -> None:
    """Two supervisords of one manifest would run every consumer twice."""
    for path, directory in state.recorded():
        running = Supervisor(state.Paths(directory)).is_running
        if path == manifest.path and directory != manifest.state_dir and running():
            raise BadInput(
                f"{path} already runs with its state in {directory}; pass --state-dir "
                f"{directory}, or stop it with `hueyctl down --state-dir {directory} {path}`"
            )


def _refuse_strays(manifest: Manifest, sup: Supervisor) -> None:
    """Consumers of this deployment alive without an answering supervisord would run
    beside the new ones. Those ending (their supervisord died or is stopping) are waited
    for; any other (say, its state directory was deleted) fails `up`."""
    found = proctable.find(manifest.state_dir)
    ending = sup.state() == "SHUTDOWN" or all(p.role != proctable.SUPERVISORD for p in found)
    if found and ending:
        found = proctable.wait_gone(found, _shutdown_timeout(manifest))
    if found:
        raise OperationFailed(
            f"{manifest.project}: running without an answering supervisord: "
            f"{proctable.describe(found)}; stop them with `hueyctl down {manifest.path}`"
        )


def _apply(sup: Supervisor, todo: list[planning.Change]) -> None:
    for change in todo:
        if change.action in (planning.REMOVE, planning.RESTART):
            sup.remove(change.instance)
        if change.action in (planning.ADD, planning.RESTART):
            sup.add(change.instance)
        if change.action == planning.START:
            sup.start_process(change.instance)


def _wait_timeout(manifest: Manifest, names: list[str]) -> float:
    slowest = max((manifest.programs()[n].startsecs for n in names), default=0)
    return 30.0 + 3 * slowest


def _raise_if_failed(sup: Supervisor, infos: dict[str, dict[str, Any]]) -> None:
    failed = {name: info for name, info in infos.items() if info["statename"] != "RUNNING"}
    if not failed:
        return
    logs = {
        name: (sup.tail(name)[0] or sup.tail(name, "stdout")[0]).strip() or "(empty)"
        for name in sorted(failed)
    }
    # Each one's last line first: a traceback ends with the error.
    summary = "; ".join(f"{name}: {log.splitlines()[-1]}" for name, log in logs.items())
    detail = "\n".join(
        f"--- {name} ({failed[name]['statename']}), last lines of its log ---\n{log}"
        for name, log in logs.items()
    )
    raise OperationFailed(f"consumer(s) not running: {summary}", detail)


def down(manifest: Manifest) -> bool:
    """Stop every consumer gracefully, then supervisord, and any of the deployment's
    processes that supervisord no longer answers for; False if nothing was running."""
    sup = supervisor(manifest)
    timeout = _shutdown_timeout(manifest)
    # A `down` already under way (hueyctl's own, when `up --foreground` ends) is waited for.
    with state.changing(sup.where, manifest, "down", wait=timeout):
        was_running = sup.is_running()
        if was_running:
            sup.shutdown(timeout)
        strays = proctable.find(manifest.state_dir)
        left = proctable.stop(strays, timeout)
        if left:
            raise OperationFailed(f"still running after {timeout}s: {proctable.describe(left)}")
    state.forget(manifest)
    return was_running or bool(strays)


def _shutdown_timeout(manifest: Manifest) -> float:
    longest = max((i.options.shutdown_timeout for i in manifest.instances.values()), default=0)
    return longest + render.STOP_MARGIN + SHUTDOWN_MARGIN


def running(manifest: Manifest) -> Supervisor:
    """The deployment's supervisord, which must be running."""
    sup = supervisor(manifest)
    if not sup.is_running():
        raise OperationFailed(
            f"{manifest.project}: supervisord is not running; start it with "
            f"`hueyctl up {manifest.path}`"
        )
    return sup


def restart(manifest: Manifest, instances: list[str]) -> dict[str, dict[str, Any]]:
    """Stop (gracefully) and start the consumers of ``instances``; wait until they run
    again. Returns their info, by program."""
    names = list(manifest.programs(instances))
    sup = running(manifest)
    with state.changing(sup.where, manifest, "restart"):
        for name in names:
            sup.stop_process(name)
            sup.start_process(name)
    infos = sup.wait_running(names, _wait_timeout(manifest, names))
    _raise_if_failed(sup, infos)
    return infos


def stop(manifest: Manifest, instances: list[str]) -> dict[str, dict[str, Any]]:
    """Stop the consumers of ``instances`` gracefully, as `down` does, and keep them
    stopped: `up` leaves them so, and says so in its plan, until `start` (or
    `up --start-stopped`). Returns their info, by program."""
    names = list(manifest.programs(instances))
    sup = running(manifest)
    with state.changing(sup.where, manifest, "stop"):
        _hold(manifest, sup.where, state.read_held(sup.where) | set(instances))
        for name in names:
            sup.stop_process(name)
    infos = sup.processes()
    return {name: infos.get(name, {}) for name in names}


def start(manifest: Manifest, instances: list[str]) -> dict[str, dict[str, Any]]:
    """Start the consumers of ``instances`` stopped by hand (or otherwise stopped); wait
    until they run. Returns their info, by program."""
    names = list(manifest.programs(instances))
    sup = running(manifest)
    with state.changing(sup.where, manifest, "start"):
        _hold(manifest, sup.where, state.read_held(sup.where) - set(instances))
        for name in names:
            sup.start_process(name)
    infos = sup.wait_running(names, _wait_timeout(manifest, names))
    _raise_if_failed(sup, infos)
    return infos


def release(manifest: Manifest) -> None:
    """Forget which instances were stopped by hand (`up --start-stopped` starts them)."""
    where = state.paths(manifest)
    if where.held.exists():
        state.write_held(where, set())


def _hold(manifest: Manifest, where: state.Paths, stopped: set[str]) -> None:
    """Record the instances stopped by hand, and have supervisord's config say so, so a
    supervisord that starts again does not start them on its own."""
    state.write_held(where, stopped)
    state.write_atomic(where.config, render.render(manifest, stopped))


def reload(manifest: Manifest, instances: list[str]) -> None:
    """Send SIGHUP: each consumer restarts its workers gracefully, keeping its pid."""
    sup = running(manifest)
    for name in manifest.programs(instances):
        sup.signal(name, "HUP")


def processes(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Each instance's process info from supervisord; when none answers, a consumer still
    alive shows as UNSUPERVISED (`up` will not start another beside it; `down` stops it)."""
    sup = supervisor(manifest)
    if sup.is_running():
        return sup.processes()
    return {
        p.instance: {"statename": UNSUPERVISED, "pid": p.pid}
        for p in proctable.find(manifest.state_dir)
        if p.role == proctable.CONSUMER and p.instance is not None
    }


def process_row(name: str, info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What supervisord says of a consumer ({} if it knows none): state, pid, uptime;
    then ``extra``."""
    uptime = None
    if info.get("statename") == "RUNNING":
        uptime = max(0.0, (info.get("now") or time.time()) - info["start"])
    return {
        "instance": name,
        "state": info.get("statename", "DOWN"),
        "pid": info.get("pid") or None,
        "uptime": uptime,
        **extra,
    }
