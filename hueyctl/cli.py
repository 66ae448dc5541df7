"""hueyctl: a manifest in, a supervised, observable Huey deployment out.

Each command loads what it needs, calls one function from the library modules, and
prints a table or ``--json``. :class:`Boundary` is the one place errors become output
and exit codes (1: an operation failed, 2: bad input).
"""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from huey.exceptions import QueueException
from hueyctl import deployment, fleet, render, state
from hueyctl.bind import check_imports
from hueyctl.errors import BadInput, HueyctlError
from hueyctl.manifest import load
from hueyctl.model import Manifest
from hueyctl.output import emit
from hueyctl.starter import STARTER
from hueyctl.statedir import STATE_DIR_ENV


class Boundary(TyperGroup):
    """Turns a HueyctlError into its message (and detail) on stderr and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HueyctlError as exc:
            typer.echo(str(exc), err=True)
            if getattr(exc, "detail", ""):
                typer.echo(exc.detail.rstrip(), err=True)
            raise typer.Exit(exc.exit_code) from None
        except (OSError, http.client.HTTPException, QueueException) as exc:
            # supervisord's socket or the instance's storage went away mid-command.
            typer.echo(f"hueyctl: operation failed: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=Boundary, no_args_is_help=True, help=__doc__.split("\n")[0])

ManifestArg = Annotated[Path, typer.Argument(help="the deployment's manifest (YAML)")]
OptionalManifest = Annotated[
    Path | None, typer.Argument(help="manifest; default: the deployment(s) `up` recorded")
]
ManifestOpt = Annotated[
    Path | None, typer.Option("--manifest", "-m", help="manifest; default: recorded ones")
]
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
InstanceOpt = Annotated[str | None, typer.Option("--instance", "-i", help="instance name")]
Limit = Annotated[int | None, typer.Option("--limit", "-n", help="show at most N")]
Args = Annotated[
    bool, typer.Option("--args", help="also show arguments (unpickles them; verified first)")
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=STATE_DIR_ENV,
        help="supervisord's files here, not in the manifest's state_dir",
    ),
]


def deployments(manifest: Path | None, state_dir: Path | None = None) -> list[Manifest]:
    """The manifest given, else every deployment `up` recorded (those in ``state_dir``)."""
    if manifest is not None:
        return [load(manifest, state_dir=state_dir)]
    wanted = state_dir and state_dir.expanduser().absolute()
    recorded = [
        load(path, state_dir=directory)
        for path, directory in state.recorded()
        if path.exists() and wanted in (None, directory)
    ]
    if not recorded:
        where = f" in {wanted}" if wanted else ""
        raise BadInput(f"no deployment recorded by `hueyctl up`{where}; pass a manifest")
    return recorded


def single(
    manifest: Path | None, instance: str | None = None, state_dir: Path | None = None
) -> Manifest:
    """The one deployment meant: given, the only recorded one, or the one with ``instance``."""
    found = [
        m for m in deployments(manifest, state_dir) if instance is None or instance in m.instances
    ]
    if len(found) != 1:
        where = ", ".join(str(m.path) for m in found) or "none has it"
        raise BadInput(f"which deployment? recorded: {where}; pass the manifest")
    return found[0]


def consumers(
    manifest: Path | None, instance: str | None, state_dir: Path | None
) -> tuple[Manifest, list[str]]:
    """The deployment meant and the instance named, or all of its instances."""
    model = single(manifest, instance, state_dir)
    return model, [model.instance(instance).name] if instance else list(model.instances)


@app.command()
def init(
    path: Annotated[Path, typer.Argument()] = Path("hueyctl.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
    json: Json = False,
) -> None:
    """Write a commented starter manifest."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
    path.write_text(STARTER, encoding="utf-8")
    emit([{"wrote": str(path)}], json, text=f"wrote {path}; edit it, then run: hueyctl up {path}")


@app.command()
def validate(
    manifest: ManifestArg,
    imports: Annotated[bool, typer.Option("--check-imports", help="import apps")] = False,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Check a manifest; print every problem with its file:line: field."""
    model = load(manifest, state_dir=state_dir)
    render.check(render.render(model), state.paths(model))
    if imports:
        check_imports(model)
    rows = [
        {"instance": n, "app": i.app, "storage": i.storage, "workers": i.options.workers}
        for n, i in model.instances.items()
    ]
    emit(rows, json, text=f"{manifest}: ok ({len(rows)} instances)")


@app.command("render")
def render_command(manifest: ManifestArg, state_dir: StateDir = None) -> None:
    """Print the supervisord.conf that `up` would write."""
    model = load(manifest, state_dir=state_dir)
    text = render.render(model)
    render.check(text, state.paths(model))
    typer.echo(text, nl=False)


@app.command()
def plan(manifest: ManifestArg, state_dir: StateDir = None, json: Json = False) -> None:
    """Show what `up` would change (add, restart with the fields that changed, remove)."""
    changes = deployment.changes(load(manifest, state_dir=state_dir))
    rows = [{"instance": c.instance, "action": c.action, "fields": list(c.fields)} for c in changes]
    emit(rows, json, text="\n".join(f"{c.instance}: {c.describe()}" for c in changes))


@app.command()
def up(
    manifest: ManifestArg,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="run supervisord as a child until SIGTERM")
    ] = False,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Start or update the deployment; wait until every consumer is RUNNING.

    With --foreground (for containers and systemd), hueyctl then stays until SIGTERM or
    SIGINT, and stops everything as `down` does before it exits.
    """
    model = load(manifest, state_dir=state_dir)

    def show(applied: deployment.Applied) -> None:
        changes, infos = applied
        rows = [
            deployment.process_row(c.instance, infos.get(c.instance, {}), action=c.describe())
            for c in changes
        ]
        emit(rows, json)

    if not foreground:
        show(deployment.up(model))
        return
    reason = deployment.foreground(model, show)
    typer.echo(f"{model.project}: stopped ({reason})", err=True)


@app.command()
def down(manifest: OptionalManifest = None, state_dir: StateDir = None, json: Json = False) -> None:
    """Stop every consumer gracefully, then supervisord; nothing is left running."""
    model = single(manifest, state_dir=state_dir)
    stopped = deployment.down(model)
    emit([{"project": model.project, "stopped": stopped}], json)


@app.command()
def status(
    manifest: OptionalManifest = None, state_dir: StateDir = None, json: Json = False
) -> None:
    """Per instance: state, pid, uptime, workers and the storage's counts."""
    emit(fleet.status(deployments(manifest, state_dir)), json)


@app.command()
def restart(
    instance: Annotated[str | None, typer.Argument()] = None,
    manifest: ManifestOpt = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Restart one consumer (or all of a deployment's) and wait until it runs again."""
    model, names = consumers(manifest, instance, state_dir)
    infos = deployment.restart(model, names)
    emit([deployment.process_row(n, infos[n]) for n in names], json)


@app.command()
def reload(
    instance: Annotated[str | None, typer.Argument()] = None,
    manifest: ManifestOpt = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Send SIGHUP: consumers restart their workers gracefully, keeping their pid."""
    model, names = consumers(manifest, instance, state_dir)
    deployment.reload(model, names)
    emit([{"instance": name, "signal": "HUP"} for name in names], json)


@app.command()
def logs(
    instance: str,
    manifest: ManifestOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 20,
    stdout: Annotated[bool, typer.Option("--stdout", help="stdout, not stderr")] = False,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Print the last lines of a consumer's log (stderr, where it logs); -f follows it."""
    model = single(manifest, instance, state_dir)
    sup = deployment.running(model)
    stream = "stdout" if stdout else "stderr"
    text, offset = sup.tail(model.instance(instance).name, stream, 0, 65536)
    last = text.splitlines()[-lines:] if lines > 0 else []
    emit([{"instance": instance, "stream": stream, "lines": last}], json, text="\n".join(last))
    while follow and not json:
        time.sleep(0.5)
        text, offset = sup.tail(instance, stream, offset, 65536)
        typer.echo(text, nl=False)


@app.command()
def revoke(
    task_id: Annotated[str | None, typer.Argument()] = None,
    task: Annotated[str | None, typer.Option("--task", help="revoke every run of a task")] = None,
    instance: InstanceOpt = None,
    until: Annotated[str | None, typer.Option("--until", help="30m, 2h, 1d, ISO")] = None,
    once: Annotated[bool, typer.Option("--once", help="skip the next run only")] = False,
    manifest: ManifestOpt = None,
    json: Json = False,
) -> None:
    """Stop a task (by id, or every run of one by --task NAME) from running."""
    if (task_id is None) == (task is None):
        raise BadInput("give a TASK_ID or --task NAME (one of them)")
    when = fleet.parse_when(until) if until else None
    models = deployments(manifest)
    if task is not None:
        rows = fleet.revoke_task(models, task, instance, when, once)
    else:
        rows = [fleet.revoke(models, task_id, instance, when, once)]
    emit(rows, json)


@app.command()
def restore(
    task_id: Annotated[str | None, typer.Argument()] = None,
    task: Annotated[str | None, typer.Option("--task", help="restore a whole task")] = None,
    instance: InstanceOpt = None,
    manifest: ManifestOpt = None,
    json: Json = False,
) -> None:
    """Undo a revoke (of one task id, or of a whole task with --task NAME)."""
    if (task_id is None) == (task is None):
        raise BadInput("give a TASK_ID or --task NAME (one of them)")
    models = deployments(manifest)
    if task is not None:
        rows = fleet.revoke_task(models, task, instance, restore=True)
    else:
        rows = fleet.restore(models, task_id, instance)
    emit(rows, json)


@app.command()
def pending(
    instance: str,
    manifest: ManifestOpt = None,
    limit: Limit = None,
    args: Args = False,
    json: Json = False,
) -> None:
    """Tasks waiting in an instance's queue."""
    emit(fleet.tasks(deployments(manifest), instance, "pending", limit, args), json)


@app.command()
def scheduled(
    instance: str,
    manifest: ManifestOpt = None,
    limit: Limit = None,
    args: Args = False,
    json: Json = False,
) -> None:
    """Tasks waiting for their execute time."""
    emit(fleet.tasks(deployments(manifest), instance, "scheduled", limit, args), json)


@app.command()
def results(
    instance: str, manifest: ManifestOpt = None, limit: Limit = None, json: Json = False
) -> None:
    """Results stored and not yet read."""
    emit(fleet.results(deployments(manifest), instance, limit), json)


@app.command()
def errors(
    instance: str, manifest: ManifestOpt = None, limit: Limit = None, json: Json = False
) -> None:
    """Recorded task failures, newest first."""
    rows = fleet.errors(deployments(manifest), instance, limit)
    emit(rows, json, ["instance", "task_id", "task", "error", "time"])


def main() -> None:
    app()
