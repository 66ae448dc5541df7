"""Where a deployment keeps its files, what `up` last applied, and the index of deployments.

The state directory (``state_dir`` in the manifest, or ``--state-dir``) holds
supervisord's config, socket, pid file and logs, ``applied.json``: each instance's
settings as of the last `up`, ``manifest.yaml``: the manifest `up` applied, which the
consumers, `status`, `down` and restarts read instead of the live file (edited or moved,
it changes nothing until the next `up`), and ``hueyctl.lock``, held by the `up`, `down`
or `restart` changing the deployment. The index (``$HUEYCTL_STATE_HOME``, else
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
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hueyctl import statedir
from hueyctl.errors import OperationFailed
from hueyctl.manifest import load
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
        self.snapshot = root / "manifest.yaml"
        self.lock = root / "hueyctl.lock"
        self.held = root / "stopped.json"

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
        with os.fdopen(statedir.open_private(where.applied, os.O_RDONLY), "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    remedy = "remove it; the next `hueyctl up` then restarts every instance"
    return _parse(where.applied, text, remedy)


def write_applied(where: Paths, settings: dict[str, dict[str, Any]]) -> None:
    write_atomic(where.applied, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def read_held(where: Paths) -> set[str]:
    """The instances `hueyctl stop` stopped by hand (and no `start` started since)."""
    try:
        with os.fdopen(statedir.open_private(where.held, os.O_RDONLY), encoding="utf-8") as f:
            return set(json.load(f))
    except FileNotFoundError:
        return set()


def write_held(where: Paths, names: set[str]) -> None:
    write_atomic(where.held, json.dumps(sorted(names)) + "\n")


def write_snapshot(where: Paths, manifest: Manifest) -> None:
    """Keep the text of the manifest being applied ("${VAR}" unresolved, owner-only)."""
    write_atomic(where.snapshot, manifest.path.read_text(encoding="utf-8"))


def applied_manifest(path: Path, state_dir: Path | None = None, resolve: bool = True) -> Manifest:
    """The manifest at ``path`` as `up` last applied it into ``state_dir`` (by default
    the one the live file names); the live file when nothing was applied there.
    ``resolve``: every ``${VAR}`` must be set, as :func:`load` says."""
    if state_dir is None:
        state_dir = load(path, resolve=False).state_dir
    state_dir = state_dir.expanduser().absolute()
    try:
        snapshot = statedir.open_private(Paths(state_dir).snapshot, os.O_RDONLY)
    except FileNotFoundError:
        return load(path, state_dir=state_dir, resolve=resolve)
    with os.fdopen(snapshot, encoding="utf-8") as f:
        text = f.read()
    return load(path, state_dir=state_dir, resolve=resolve, text=text)


@contextlib.contextmanager
def changing(where: Paths, manifest: Manifest, command: str, wait: float = 0) -> Iterator[None]:
    """Hold the deployment's lock for ``command`` (up, down, restart), waiting at most
    ``wait`` seconds for it: one at a time, else two supervisords would race for one
    socket. No state directory, no lock."""
    if not where.root.is_dir():
        yield
        return
    with _locked(where.lock, wait) as fd:
        if fd is None:
            holder = where.lock.read_text(encoding="utf-8").strip() or "up"
            raise OperationFailed(f"another hueyctl {holder} is running for {manifest.project}")
        os.ftruncate(fd, 0)
        os.write(fd, command.encode())
        yield


def index_dir() -> Path:
    if os.environ.get("HUEYCTL_STATE_HOME"):
        return Path(os.environ["HUEYCTL_STATE_HOME"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "hueyctl"


Deployment = tuple[Path, Path]  # (manifest, state directory)


def recorded() -> list[Deployment]:
    """The deployments `up` recorded, oldest first."""
    path = index_dir() / INDEX_NAME
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return []
    remedy = "remove it, then `hueyctl up` each deployment again to record it"
    entries = _parse(path, text, remedy).get("deployments", [])
    try:
        return [(Path(d["manifest"]), Path(d["state_dir"])) for d in entries]
    except (TypeError, KeyError) as exc:
        raise _damaged(path, f"{type(exc).__name__}: {exc}", remedy) from None


def _parse(path: Path, text: bytes, remedy: str) -> dict[str, Any]:
    """The JSON object hueyctl wrote to ``path``; a damaged file fails the command in
    one line that names it and says what to do (``remedy``)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _damaged(path, exc, remedy) from None
    if not isinstance(data, dict):
        raise _damaged(path, "not a JSON object", remedy)
    return data


def _damaged(path: Path, what: object, remedy: str) -> OperationFailed:
    return OperationFailed(f"{path} is damaged ({what}): {remedy}")


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


def _index_lock() -> contextlib.AbstractContextManager[int | None]:
    directory = index_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return _locked(directory / LOCK_NAME)


@contextlib.contextmanager
def _locked(path: Path, wait: float | None = None) -> Iterator[int | None]:
    """An exclusive lock on ``path`` for the block: its descriptor, or None when another
    process held it for ``wait`` seconds (None: as long as it takes)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + (wait or 0)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield None
                    return
                time.sleep(0.1)
        yield fd  # released when the descriptor closes
    finally:
        os.close(fd)
