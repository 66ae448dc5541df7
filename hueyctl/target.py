"""Which deployment a command means: the manifest given (as its argument or with -m),
else the ones `hueyctl up` recorded, narrowed by ``--state-dir`` and ``-p PROJECT``.

Commands that look at a deployment or act on it read it as `up` last applied it (the
copy in its state directory), so an edited or moved manifest changes nothing until
`up`; the commands that start, check or show one read the live file."""

from __future__ import annotations

from pathlib import Path

from hueyctl import state
from hueyctl.errors import BadInput
from hueyctl.manifest import load
from hueyctl.model import Manifest


def deployments(
    manifest: Path | None,
    state_dir: Path | None = None,
    project: str | None = None,
    resolve: bool = False,
    live: bool = False,
) -> list[Manifest]:
    """The manifest given, else every deployment `up` recorded (those in ``state_dir``,
    of ``project``), as applied unless ``live``. ``resolve``: every ``${VAR}`` must be
    set (`up` and `validate` ask for it)."""

    def read(path: Path, directory: Path | None) -> Manifest:
        if live:
            return load(path, state_dir=directory, resolve=resolve)
        return state.applied_manifest(path, directory, resolve)

    if manifest is not None:
        found = [read(manifest, state_dir)]
    else:
        wanted = state_dir and state_dir.expanduser().absolute()
        found = [
            read(path, directory)
            for path, directory in state.recorded()
            if (path.exists() or not live and state.Paths(directory).snapshot.exists())
            and wanted in (None, directory)
        ]
        if not found:
            where = f" in {wanted}" if wanted else ""
            raise BadInput(f"no deployment recorded by `hueyctl up`{where}; pass a manifest")
    chosen = [m for m in found if project in (None, m.project)]
    if not chosen:
        names = ", ".join(sorted({m.project for m in found}))
        raise BadInput(f"no deployment of project {project!r}; there are: {names}")
    return chosen


def single(
    manifest: Path | None,
    instance: str | None = None,
    state_dir: Path | None = None,
    project: str | None = None,
    resolve: bool = False,
    live: bool = False,
) -> Manifest:
    """The one deployment meant: given, the only recorded one, or the one with ``instance``."""
    models = deployments(manifest, state_dir, project, resolve, live)
    found = [m for m in models if instance is None or instance in m.instances]
    if instance is not None and not found and len(models) == 1:
        models[0].instance(instance)  # no such instance: says so, with a did-you-mean
    if instance is not None and not found:
        where = ", ".join(str(m.path) for m in models)
        raise BadInput(f"no instance {instance!r} in any recorded deployment ({where})")
    if len(found) != 1:
        where = ", ".join(str(m.path) for m in found)
        raise BadInput(f"which deployment? recorded: {where}; pass the manifest or -p PROJECT")
    return found[0]


def subject(manifest: Path | None, option: Path | None) -> Path | None:
    """The manifest, given as the argument or with -m (not both, unless the same)."""
    if manifest is not None and option is not None and manifest != option:
        raise BadInput(f"two manifests given: {manifest} and -m {option}; give one")
    return manifest or option


def named(
    manifest: Path | None,
    option: Path | None,
    project: str | None,
    state_dir: Path | None,
    resolve: bool = False,
) -> Manifest:
    """The deployment a command that starts, checks or shows one must be told about:
    by its manifest (the argument or -m) or by -p PROJECT."""
    path = subject(manifest, option)
    if path is None and project is None:
        raise BadInput("give the manifest (MANIFEST or -m MANIFEST) or -p PROJECT")
    return single(path, None, state_dir, project, resolve, live=True)


def consumers(
    manifest: Path | None, instance: str | None, state_dir: Path | None, project: str | None
) -> tuple[Manifest, list[str]]:
    """The deployment meant and the instance named, or all of its instances."""
    model = single(manifest, instance, state_dir, project)
    return model, [model.instance(instance).name] if instance else list(model.instances)
