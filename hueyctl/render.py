"""The model -> supervisord.conf, and a check of the result with supervisor's own parser.

Each consumer (an instance's, or each of its replicas') is one ``[program:]`` and so its
own group: supervisord restarts a whole group when any member changes. The consumer's
environment and options are not written here: the launcher reads them from the
manifest, so no secret reaches this file and there is nothing to quote. A digest of the
instance's settings rides in ``environment=`` so that supervisord sees a change exactly
when `up`'s plan does.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
from collections.abc import Collection
from io import StringIO
from pathlib import Path

from hueyctl.errors import BadInput
from hueyctl.model import Instance, Manifest
from hueyctl.state import Paths, paths
from hueyctl.values import VARIABLE, config_path_problem

# Seconds beyond the consumer's own shutdown timeout before supervisord sends SIGKILL.
STOP_MARGIN = 10
# A consumer that cannot reach its storage at start exits; supervisord tries again after
# 1, 2, 3... seconds, so these retries ride out about five minutes of storage outage
# before it gives up (FATAL) for good.
START_RETRIES = 24
LOG_MAXBYTES = "10MB"
# The variable that holds a consumer's program name: its instance's, or a replica's.
PROGRAM_ENV = "HUEYCTL_PROGRAM"
LOG_BACKUPS = 5


def escape(value: object) -> str:
    """A value safe in a supervisord.conf line: ``%`` doubled, no newline."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise BadInput(f"a supervisord setting cannot hold a line break: {text!r}")
    return text.replace("%", "%%")


def command(manifest: Manifest, instance: Instance) -> str:
    """The launcher command line; supervisord splits it with shlex, with no shell."""
    words = [sys.executable, "-m", "hueyctl.launch", str(manifest.path), instance.name]
    for word in words:
        unusable = config_path_problem(word)
        if unusable:
            raise BadInput(f"{word!r}: {unusable}; move it to a path without them")
    return " ".join(f"'{w}'" if (" " in w or '"' in w) else w for w in words)


def digest(manifest: Manifest, instance: Instance) -> str:
    settings = json.dumps(manifest.settings(instance), sort_keys=True, default=str)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def program(
    manifest: Manifest, instance: Instance, where: Paths, name: str, held: bool = False
) -> dict[str, object]:
    """The ``[program:]`` settings of one consumer of ``instance`` (``name``: the
    instance's, or a replica's); one ``held`` (stopped by hand) is not started by
    supervisord on its own."""
    return {
        "command": command(manifest, instance),
        "directory": manifest.directory,
        "autostart": "false" if held else "true",
        "autorestart": "true",
        "startsecs": instance.startsecs,
        "startretries": START_RETRIES,
        # The consumer stops gracefully on SIGINT; give it its shutdown timeout and more.
        "stopsignal": "INT",
        "stopwaitsecs": math.ceil(instance.options.shutdown_timeout) + STOP_MARGIN,
        # Kill the consumer's worker processes with it; stopasgroup would also signal
        # subprocesses that running tasks spawned before they can finish.
        "killasgroup": "true",
        "stopasgroup": "false",
        "stdout_logfile": where.log(name, "out"),
        "stdout_logfile_maxbytes": LOG_MAXBYTES,
        "stdout_logfile_backups": LOG_BACKUPS,
        "stderr_logfile": where.log(name, "err"),
        "stderr_logfile_maxbytes": LOG_MAXBYTES,
        "stderr_logfile_backups": LOG_BACKUPS,
        # The program's name lets the process table tell replicas apart (proctable).
        "environment": f'HUEYCTL_DIGEST="{digest(manifest, instance)}",{PROGRAM_ENV}="{name}"',
    }


def sections(manifest: Manifest, held: Collection[str] = ()) -> dict[str, dict[str, object]]:
    where = paths(manifest)
    result: dict[str, dict[str, object]] = {
        "unix_http_server": {"file": where.socket, "chmod": "0700"},
        "supervisord": {
            "logfile": where.logfile,
            "logfile_maxbytes": LOG_MAXBYTES,
            "logfile_backups": LOG_BACKUPS,
            "pidfile": where.pidfile,
            "childlogdir": where.logs,
            "identifier": f"hueyctl-{manifest.project}",
            "umask": "077",
        },
        "rpcinterface:supervisor": {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        },
        "supervisorctl": {"serverurl": f"unix://{where.socket}"},
    }
    if manifest.http is not None:
        http = manifest.http
        result["inet_http_server"] = {
            "port": f"{http.host}:{http.port}",
            "username": http.username,
            # Never the password itself: "${VAR}" becomes supervisord's own %(ENV_VAR)s.
            "password": VARIABLE.sub(lambda m: f"%(ENV_{m.group(1)})s", http.password),
        }
    for name, instance in manifest.programs().items():
        result[f"program:{name}"] = program(manifest, instance, where, name, instance.name in held)
    return result


def render(manifest: Manifest, held: Collection[str] = ()) -> str:
    """supervisord.conf for the whole deployment (``held``: instances stopped by hand)."""
    out = StringIO()
    out.write(f"; Written by hueyctl from {escape(manifest.path)}; edits are overwritten.\n")
    for name, values in sections(manifest, held).items():
        out.write(f"\n[{name}]\n")
        for key, value in values.items():
            # The %(ENV_X)s reference is the one expansion supervisord must see as is.
            shown = value if key == "password" else escape(value)
            out.write(f"{key}={shown}\n")
    return out.getvalue()


def server_part(text: str) -> str:
    """The sections of a rendered config that are supervisord's own, not its programs'."""
    return text.split("\n[program:", 1)[0]


def check(text: str, where: Paths) -> None:
    """Parse ``text`` with supervisord's own config reader; raise BadInput if it refuses.

    The reader insists that log directories exist; before the first `up` they do not
    (even when systemd or a Dockerfile made the state directory itself), so the check
    then reads a copy that points at an empty stand-in directory.
    """
    from supervisor.options import ServerOptions

    with tempfile.TemporaryDirectory(prefix="hueyctl-") as scratch:
        if not where.logs.is_dir():
            Paths(Path(scratch)).create()
            text = text.replace(escape(where.root), escape(scratch))
        options = ServerOptions()
        options.configfile = StringIO(text)
        options.here = str(where.root)
        try:
            options.process_config(do_usage=False)
        except ValueError as exc:
            raise BadInput(f"supervisord rejects the rendered config: {exc}") from None
