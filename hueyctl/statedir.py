"""Where a deployment's state directory is, and whether it is fit to hold its state.

The state directory is the manifest's ``state_dir`` (relative to the manifest), or the
``--state-dir`` given on the command line (relative to where the command runs). It holds
supervisord's config, socket and logs, so only its owner may change it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from hueyctl.errors import BadInput

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


def check_trusted(root: Path) -> None:
    """Refuse a state directory, or anything in it, that is a symlink, that group or others
    may write, or that another user owns: whoever can change it can make hueyctl and
    supervisord write, read or run what they choose."""
    for path in _inside(root):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        what = "the state directory" if path == root else "a file of the state directory"
        if stat.S_ISLNK(info.st_mode):
            raise BadInput(f"{path}: {what} is a symlink; point hueyctl at the real path")
        if info.st_uid != os.geteuid():
            raise BadInput(
                f"{path}: {what} is owned by uid {info.st_uid}, not by this user "
                f"(uid {os.geteuid()}); run hueyctl as its owner"
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise BadInput(f"{path}: {what} is writable by group or others; chmod go-w it")


def _inside(root: Path) -> Iterator[Path]:
    """``root`` and every path under it, without following symlinks."""
    yield root
    for directory, names, files in os.walk(root):
        for name in (*names, *files):
            yield Path(directory, name)


def make_private(root: Path) -> None:
    """Take group and others' access to everything in ``root`` away: an older hueyctl
    left supervisord's logs readable by all, and supervisord appends to them as they are.
    A file that goes meanwhile (a running consumer's, of a storage kept here) is skipped."""
    for path in _inside(root):
        with contextlib.suppress(FileNotFoundError):
            info = os.lstat(path)
            if info.st_mode & 0o077 and not stat.S_ISLNK(info.st_mode):
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def open_private(path: Path, flags: int) -> int:
    """Open a file of the state directory, never through a symlink; it is the owner's
    only (0600), even when it was created by an older hueyctl."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    if flags & os.O_CREAT:
        os.fchmod(fd, 0o600)
    return fd
