"""``hueyctl export``: the same manifest as files another supervisor runs (Kubernetes,
systemd, Docker Compose), with the consumer run directly by the launcher.

Exports are generated, never edited, and deterministic: exporting the same manifest
twice writes the same bytes, so a diff of two exports shows what a manifest change does.
"""

from __future__ import annotations

from pathlib import Path

from hueyctl.export import compose, kubernetes, systemd
from hueyctl.export.shared import DEFAULT_IMAGE, generated
from hueyctl.model import Manifest

TARGETS = ("kubernetes", "systemd", "compose")
__all__ = ["DEFAULT_IMAGE", "TARGETS", "export", "write"]


def export(manifest: Manifest, target: str, image: str = DEFAULT_IMAGE) -> dict[str, str]:
    """File name (relative) -> contents, for ``target``."""
    if target == "kubernetes":
        return kubernetes.export(manifest, image)
    if target == "systemd":
        return systemd.export(manifest)
    return compose.export(manifest, image)


def write(files: dict[str, str], directory: Path, target: str) -> list[Path]:
    """Write ``files`` under ``directory`` and remove the files an earlier export to
    ``target`` wrote there that this one does not (an instance taken out of the manifest)."""
    for old in sorted(directory.rglob("*")) if directory.is_dir() else []:
        if old.is_file() and old.relative_to(directory).as_posix() not in files:
            if old.read_text(encoding="utf-8", errors="replace").startswith(generated(target)):
                old.unlink()
                if old.parent != directory and not any(old.parent.iterdir()):
                    old.parent.rmdir()  # a systemd drop-in directory
    written = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
