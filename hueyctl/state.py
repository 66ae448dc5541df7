"""Where a deployment keeps its files, what `up` last applied, and the index of deployments.

The state directory (``state_dir`` in the manifest, or ``--state-dir``) holds
supervisord's config, socket, pid file and logs, and ``applied.json``: each instance's
settings as of the last `up`. The index (``$HUEYCTL_STATE_HOME``, else
``$XDG_STATE_HOME/hueyctl``, else ``~/.local/state/hueyctl``) lists the deployments `up`
made, each a manifest and its state directory, so commands given no manifest can find
them; every change to it holds a lock on ``deployments.lock``, so several `hueyctl up`
at once lose no entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hueyctl import statedir
from hueyctl.model import Manifest
from hueyctl.statedir import SOCKET_NAME

INDEX_NAME = "deployments.json"
LOCK_NAME = "deployments.lock"


class Paths:
    """The files of one deployment's supervisord, all inside its state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "supervisord.conf"
        self.socket = root / SOCKET_NAME
        self.pidfile = root / "supervisord.pid"
        self.logfile = root / "supervisord.log"
        self.logs = root / "logs"
        self.applied = root / "applied.json"

    def log(self, instance: str, stream: str) -> Path:
        """A consumer's ``out`` or ``err`` log file."""
        return self.logs / f"{instance}.{stream}.log"

    def create(self) -> None:
        """Make the directories; everything in them is the owner's only (logs may hold
        task data)."""
        self.logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        statedir.make_private(self.root)


def paths(manifest: Manifest) -> Paths:
    """The deployment's files; BadInput if its state directory is not safe to use."""
    statedir.check_trusted(manifest.state_dir)
    return Paths(manifest.state_dir)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (owner-only) so a reader never sees half a file;
    the temporary file's name is unique, so two writers cannot take each other's."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_applied(where: Paths) -> dict[str, dict[str, Any]]:
    """Each instance's settings as of the last successful apply ({} if none)."""
    try:
        with os.fdopen(statedir.open_private(where.applied, os.O_RDONLY), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def write_applied(where: Paths, settings: dict[str, dict[str, Any]]) -> None:
    write_atomic(where.applied, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def index_dir() -> Path:
    if os.environ.get("HUEYCTL_STATE_HOME"):
        return Path(os.environ["HUEYCTL_STATE_HOME"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "hueyctl"


Deployment = tuple[Path, Path]  # (manifest, state directory)


def recorded() -> list[Deployment]:
    """The deployments `up` recorded, oldest first."""
    try:
        data = json.loads((index_dir() / INDEX_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [(Path(d["manifest"]), Path(d["state_dir"])) for d in data.get("deployments", [])]


def record(manifest: Manifest) -> None:
    this = (manifest.path, manifest.state_dir)
    _change_index(lambda old: [d for d in old if d != this] + [this])


def forget(manifest: Manifest) -> None:
    this = (manifest.path, manifest.state_dir)
    _change_index(lambda old: [d for d in old if d != this])


def _change_index(change: Callable[[list[Deployment]], list[Deployment]]) -> None:
    """Read, change and write the index under an exclusive lock."""
    with _index_lock():
        entries = [{"manifest": str(m), "state_dir": str(s)} for m, s in change(recorded())]
        write_atomic(index_dir() / INDEX_NAME, json.dumps({"deployments": entries}, indent=2))


@contextlib.contextmanager
def _index_lock() -> Iterator[None]:
    directory = index_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        yield
    finally:
        os.close(fd)
