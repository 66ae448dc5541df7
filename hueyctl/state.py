"""Where a deployment keeps its files, what `up` last applied, and the index of deployments.

The state directory (``state_dir`` in the manifest) holds supervisord's config, socket,
pid file and logs, and ``applied.json``: each instance's settings as of the last `up`.
The index (``$HUEYCTL_STATE_HOME``, else ``$XDG_STATE_HOME/hueyctl``, else
``~/.local/state/hueyctl``) lists the manifests `up` deployed, so commands given no
manifest can find them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hueyctl.manifest import SOCKET_NAME, Manifest

INDEX_NAME = "deployments.json"


@dataclass(frozen=True)
class Paths:
    """The files of one deployment's supervisord, all inside its state directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.root / SOCKET_NAME

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def logfile(self) -> Path:
        return self.root / "supervisord.log"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def applied(self) -> Path:
        return self.root / "applied.json"

    def stdout_log(self, instance: str) -> Path:
        return self.logs / f"{instance}.out.log"

    def stderr_log(self, instance: str) -> Path:
        return self.logs / f"{instance}.err.log"

    def create(self) -> None:
        """Make the directories, readable by the owner only (logs may hold task data)."""
        self.logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)


def paths(manifest: Manifest) -> Paths:
    return Paths(manifest.state_dir)


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_applied(where: Paths) -> dict[str, dict[str, Any]]:
    """Each instance's settings as of the last successful apply ({} if none)."""
    try:
        return json.loads(where.applied.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def write_applied(where: Paths, settings: dict[str, dict[str, Any]]) -> None:
    write_atomic(where.applied, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def index_dir() -> Path:
    if os.environ.get("HUEYCTL_STATE_HOME"):
        return Path(os.environ["HUEYCTL_STATE_HOME"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "hueyctl"


def recorded() -> list[Path]:
    """The manifests of the deployments `up` recorded, oldest first."""
    try:
        data = json.loads((index_dir() / INDEX_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [Path(p) for p in data.get("manifests", [])]


def record(manifest: Manifest) -> None:
    _save_index([p for p in recorded() if p != manifest.path] + [manifest.path])


def forget(manifest: Manifest) -> None:
    _save_index([p for p in recorded() if p != manifest.path])


def _save_index(manifests: list[Path]) -> None:
    directory = index_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({"manifests": [str(p) for p in manifests]}, indent=2) + "\n"
    write_atomic(directory / INDEX_NAME, text)
