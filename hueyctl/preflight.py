"""`up`'s check, before it touches anything running, that each new or changed consumer can start.

Each is started as supervisord will start it (its own process, the manifest's ``env:``
applied, from the manifest's directory), but only up to the point where its application
is imported and bound and its storage answers: ``python -m hueyctl.launch --check``. A
typo in ``app:`` or an unreachable storage then fails `up` while the old consumer runs on.
"""

from __future__ import annotations

import os
import subprocess
import sys

from hueyctl.errors import OperationFailed
from hueyctl.model import Manifest
from hueyctl.statedir import STATE_DIR_ENV

# Importing an application and reaching its storage; a storage that does not answer
# makes the redis client give up well within it.
CHECK_TIMEOUT = 60.0


def check(manifest: Manifest, names: list[str]) -> None:
    """Raise OperationFailed naming each instance whose consumer cannot start, the last
    line of its output first (the error), then its output."""
    running = {name: _start_check(manifest, name) for name in names}
    failed = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0] + f"\n(no answer in {CHECK_TIMEOUT:.0f}s)"
        if process.returncode != 0:
            failed[name] = output.strip() or f"exit status {process.returncode}"
    if not failed:
        return
    summary = "; ".join(f"{name}: {out.splitlines()[-1]}" for name, out in sorted(failed.items()))
    detail = "\n".join(
        f"--- {name}: output of its check ---\n{out}" for name, out in sorted(failed.items())
    )
    raise OperationFailed(f"not applied, the new consumer cannot start: {summary}", detail)


def _start_check(manifest: Manifest, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hueyctl.launch", "--check", str(manifest.path), name],
        cwd=manifest.directory,
        env={**os.environ, STATE_DIR_ENV: str(manifest.state_dir)},
        stdin=subprocess.DEVNULL,
        umask=0o077,  # supervisord's: a SQLite file the check creates is the owner's only
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
