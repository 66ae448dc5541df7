"""``python -m hueyctl.liveness MANIFEST INSTANCE``: is this host's consumer alive?

A liveness probe for a pod or a container, where the consumer runs without supervisord:
it exits 0 when a consumer on this host (the pod's or container's own hostname) wrote a
heartbeat to the instance's storage within the instance's heartbeat timeout, and 1 when
none did (the consumer hangs, or cannot reach its storage), so the orchestrator restarts
it. Other consumers of the instance requeue a silent consumer's work after that same
timeout; the check reads storage through the manifest, as the consumer does.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping

from huey.exceptions import HueyException
from hueyctl.bind import bind
from hueyctl.errors import HueyctlError
from hueyctl.manifest import load
from hueyctl.statedir import STATE_DIR_ENV


def last_heartbeat(heartbeats: Mapping[str, float], host: str) -> float | None:
    """The newest heartbeat of a consumer on ``host`` (consumer ids start ``host:pid:``)."""
    beats = [beat for worker, beat in heartbeats.items() if worker.startswith(f"{host}:")]
    return max(beats, default=None)


def check(manifest_path: str, name: str, host: str, now: float) -> tuple[bool, str]:
    """Whether a consumer of ``name`` on ``host`` heartbeated recently, and why, in a line."""
    manifest = load(manifest_path, state_dir=os.environ.get(STATE_DIR_ENV), resolve=False)
    timeout = manifest.instance(name).options.heartbeat_timeout
    huey = bind(manifest, [name])[name]
    beat = last_heartbeat(huey.storage.heartbeats(), host)
    if beat is None:
        return False, f"no consumer of {name!r} on {host} has a heartbeat"
    age = now - beat
    if age > timeout:
        return False, f"{name!r} on {host}: last heartbeat {age:.0f}s ago (timeout {timeout:g}s)"
    return True, f"{name!r} on {host}: heartbeat {age:.1f}s ago"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m hueyctl.liveness MANIFEST INSTANCE", file=sys.stderr)
        return 2
    try:
        alive, reason = check(args[0], args[1], socket.gethostname(), time.time())
    except HueyctlError as exc:
        print(f"hueyctl.liveness: {exc}", file=sys.stderr)
        return exc.exit_code
    except HueyException as exc:  # the storage does not answer: not alive either
        print(f"hueyctl.liveness: storage: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(reason, file=sys.stdout if alive else sys.stderr)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
