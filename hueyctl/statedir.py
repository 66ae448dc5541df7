"""Where a deployment's state directory is, and whether it is fit to hold its state.

The state directory is the manifest's ``state_dir`` (relative to the manifest), or the
``--state-dir`` given on the command line (relative to where the command runs).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STATE_DIR = ".hueyctl"
# Overrides the manifest's state_dir, like hueyctl's --state-dir option.
STATE_DIR_ENV = "HUEYCTL_STATE_DIR"
SOCKET_NAME = "supervisor.sock"
# sun_path holds 108 bytes on Linux (104 on macOS); stay under both with the NUL.
MAX_SOCKET_PATH = 100


def locate(manifest_dir: Path, written: str | None, override: str | os.PathLike | None) -> Path:
    """The absolute state directory: ``override``, else ``written`` (the manifest's
    ``state_dir``) relative to the manifest's directory, else the default."""
    if override is not None:
        return Path(override).expanduser().absolute()
    return (manifest_dir / os.path.expanduser(written or DEFAULT_STATE_DIR)).absolute()


def location_problem(state_dir: Path) -> str | None:
    """What makes ``state_dir`` unusable by supervisord wherever it is, else None."""
    socket = state_dir / SOCKET_NAME
    if len(str(socket).encode()) > MAX_SOCKET_PATH:
        return (
            f"the supervisord socket {socket} would be longer than {MAX_SOCKET_PATH} bytes, "
            "too long for a unix socket; choose a shorter path"
        )
    return None
