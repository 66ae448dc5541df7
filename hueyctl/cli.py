"""hueyctl: a manifest in, a supervised, observable Huey deployment out.

Each command loads what it needs, calls one function from the library modules, and
prints a table or ``--json``. :class:`Boundary` is the one place errors become output
and exit codes (1: an operation failed, 2: bad input, 3: `status` found an instance
not running or not reaching its storage).

Only `up` and `validate` (and the launcher `up` starts consumers with) need every
``${VAR}`` of the manifest set; the other commands work from a shell without them.
"""

from __future__ import annotations

import functools
import http.client
import sqlite3
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import typer
from redis import RedisError
from typer.core import TyperGroup

from huey.exceptions import HueyException
from hueyctl import check as health
from hueyctl import deployment, fleet, logfiles, metrics, render, state
from hueyctl.bind import check_imports
from hueyctl.errors import BadInput, HueyctlError, Unhealthy
from hueyctl.export import DEFAULT_IMAGE, TARGETS, export, write
from hueyctl.logecho import LogEcho
from hueyctl.output import emit
from hueyctl.params import (
    Command,
    Instance,
    Json,
    ManifestOpt,
    OptionalInstance,
    Project,
    StateDir,
    Subject,
)
from hueyctl.starter import STARTER
from hueyctl.target import consumers, deployments, named, single, subject
from hueyctl.taskcli import tasks
from hueyctl.values import mask_url


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
        except (
            OSError,
            http.client.HTTPException,
            HueyException,
            RedisError,
            sqlite3.Error,
        ) as exc:
            # supervisord's socket or the instance's storage went away mid-command.
            typer.echo(f"hueyctl: operation failed: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None


def show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"hueyctl {version('huey-ng')}")
        raise typer.Exit()


app = typer.Typer(
    cls=Boundary, no_args_is_help=True, rich_markup_mode=None, help=__doc__.split("\n")[0]
)


command = functools.partial(app.command, cls=Command)
app.add_typer(tasks)  # the task commands, declared in taskcli


@app.callback()
def main_options(
    _version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="print the version and exit"
        ),
    ] = None,
) -> None:
    """The options that come before the command (the app's help is the module's)."""


@command()
def init(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="where to write it; default: hueyctl.yaml")
    ] = Path("hueyctl.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
    json: Json = False,
) -> None:
    """Write a commented starter manifest."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
    path.write_text(STARTER, encoding="utf-8")
    emit([{"wrote": str(path)}], json, text=f"wrote {path}; edit it, then run: hueyctl up {path}")


@command()
def validate(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    imports: Annotated[
        bool, typer.Option("--check-imports", help="import every app, hook and task")
    ] = False,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Check a manifest; print every problem with its file:line: field."""
    model = named(manifest, manifest_option, project, state_dir, resolve=True)
    render.check(render.render(model), state.paths(model))
    if imports:
        check_imports(model)
    rows = [
        {"instance": n, "app": i.app, "storage": mask_url(i.storage), "workers": i.options.workers}
        for n, i in model.instances.items()
    ]
    emit(rows, json, text=f"{model.path}: ok ({len(rows)} instances)")


@command("render")
def render_command(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Print the supervisord.conf that `up` would write."""
    model = named(manifest, manifest_option, project, state_dir)
    text = render.render(model)
    render.check(text, state.paths(model))
    emit([{"project": model.project, "config": text}], json, text=text.rstrip("\n"))


@command("export")
def export_command(
    to: Annotated[
        str, typer.Option("--to", metavar="|".join(TARGETS), help="what to write files for")
    ],
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="DIR", help="write the files here; default: print"),
    ] = None,
    image: Annotated[
        str, typer.Option("--image", metavar="IMAGE", help="the consumers' container image")
    ] = DEFAULT_IMAGE,
    project: Project = None,
    json: Json = False,
) -> None:
    """Write the deployment for Kubernetes, systemd or Compose; same manifest, same bytes."""
    if to not in TARGETS:
        raise BadInput(f"--to {to}: choose one of {', '.join(TARGETS)}")
    files = export(named(manifest, manifest_option, project, None), to, image)
    if output is None:
        text = "\n".join(f"# ==> {name} <==\n{body}" for name, body in files.items())
        emit([{"file": n, "text": t} for n, t in files.items()], json, text=text.rstrip("\n"))
        return
    emit([{"wrote": str(path)} for path in write(files, output, to)], json)


@command()
def plan(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Show what `up` would change (add, restart with the fields that changed, remove)."""
    model = named(manifest, manifest_option, project, state_dir)
    changes = deployment.changes(model)
    rows = [{"instance": c.instance, "action": c.action, "fields": list(c.fields)} for c in changes]
    emit(rows, json, text="\n".join(f"{c.instance}: {c.describe()}" for c in changes))


@command()
def up(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="run supervisord as a child until SIGTERM")
    ] = False,
    echo_logs: Annotated[
        bool,
        typer.Option(
            "--echo-logs", help="with --foreground: copy consumers' logs to stderr (docker logs)"
        ),
    ] = False,
    start_stopped: Annotated[
        bool, typer.Option("--start-stopped", help="start instances `hueyctl stop` stopped too")
    ] = False,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Start or update the deployment; wait until every consumer is RUNNING (but those
    `hueyctl stop` stopped: the plan says so, and --start-stopped starts them too).

    With --foreground (for containers and systemd), hueyctl then stays until SIGTERM or
    SIGINT, and stops everything as `down` does before it exits.
    """
    model = named(manifest, manifest_option, project, state_dir, resolve=True)
    if echo_logs and not foreground:
        raise BadInput("--echo-logs goes with --foreground")
    if start_stopped:
        deployment.release(model)

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
    echo = LogEcho(state.paths(model), sys.stderr) if echo_logs else None
    reason = deployment.foreground(model, show, echo)
    typer.echo(f"{model.project}: stopped ({reason})", err=True)


@command()
def down(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Stop every consumer gracefully, then supervisord; nothing is left running."""
    model = single(subject(manifest, manifest_option), None, state_dir, project)
    stopped = deployment.down(model)
    emit([{"project": model.project, "stopped": stopped}], json)


@command()
def status(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Per instance: state, pid, uptime, workers and the storage's counts.

    Exits 3 (after the table) unless every instance is RUNNING and reaches its storage.
    """
    rows = fleet.status(deployments(subject(manifest, manifest_option), state_dir, project))
    emit(rows, json)
    if not fleet.healthy(rows):
        raise Unhealthy("not every instance is RUNNING and reaching its storage")


@command("ls")
def list_deployments(
    project: Project = None, state_dir: StateDir = None, json: Json = False
) -> None:
    """The deployments `up` recorded: project, manifest, state directory, instances running."""
    emit(fleet.recorded(project, state_dir), json)


@command()
def stop(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Stop one instance's consumer gracefully, as `down` does, until `hueyctl start`:
    `up` leaves it stopped and says so; `status` shows it stopped by hand."""
    model, names = consumers(manifest_option, instance, state_dir, project)
    infos = deployment.stop(model, names)
    emit([deployment.process_row(n, i, by_hand="stopped") for n, i in infos.items()], json)


@command()
def start(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Start an instance's consumer that `hueyctl stop` stopped; wait until it runs."""
    model, names = consumers(manifest_option, instance, state_dir, project)
    infos = deployment.start(model, names)
    emit([deployment.process_row(n, info) for n, info in infos.items()], json)


@command()
def restart(
    instance: OptionalInstance = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Restart one consumer (or all of a deployment's) and wait until it runs again."""
    model, names = consumers(manifest_option, instance, state_dir, project)
    infos = deployment.restart(model, names)
    emit([deployment.process_row(n, info) for n, info in infos.items()], json)


@command()
def reload(
    instance: OptionalInstance = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Send SIGHUP: consumers restart their workers gracefully, keeping their pid."""
    model, names = consumers(manifest_option, instance, state_dir, project)
    deployment.reload(model, names)
    emit([{"instance": name, "signal": "HUP"} for name in names], json)


@command()
def logs(
    instance: OptionalInstance = None,
    manifest_option: ManifestOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing what is written")
    ] = False,
    lines: Annotated[
        int | None,
        typer.Option("--lines", "-n", metavar="N", help="how many last lines; default 20"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="lines since 10m, 2h, 1d ago or ISO time"),
    ] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="stdout, not stderr")] = False,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Print the last lines of a consumer's log (stderr, where it logs), or of every
    instance's, each line after its instance's name; -f follows them.

    Read from the log files, so it works while supervisord is down too.
    """
    model = single(manifest_option, instance, state_dir, project)
    stream = "stdout" if stdout else "stderr"
    cutoff = fleet.parse_when(since, option="--since", ago=True) if since else None
    paths = logfiles.log_files(model, stream, instance)
    tails, offsets = logfiles.tails(paths, 20 if lines is None and not cutoff else lines, cutoff)
    prefixed = instance is None or len(paths) > 1  # several replicas: say whose line
    text = "\n".join(logfiles.merged(tails, prefixed))
    emit([{"instance": n, "stream": stream, "lines": t} for n, t in tails.items()], json, text=text)
    if follow and not json:
        for line in logfiles.follow(paths, offsets, prefixed):
            typer.echo(line, nl=False)


@command("metrics")
def metrics_command(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
) -> None:
    """Print the deployment's metrics once, in the Prometheus text format.

    For a cron job writing a node_exporter textfile, or a scrape through a wrapper; the
    dashboard serves the same at /metrics.
    """
    models = deployments(subject(manifest, manifest_option), state_dir, project)
    typer.echo(metrics.render(metrics.survey(models)), nl=False)


@command("check")
def check_command(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    max_pending: Annotated[
        int | None,
        typer.Option("--max-pending", metavar="N", help="warn when more tasks wait than N"),
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age", metavar="SECONDS", help="warn when the oldest pending task waited longer"
        ),
    ] = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Exit 0 when every consumer runs and heartbeats and the thresholds hold, 1 with a
    warning, 2 when critical, 3 when it cannot look (a broken manifest); one line per
    problem (the Nagios plugin convention)."""
    try:
        surveys = metrics.survey(
            deployments(subject(manifest, manifest_option), state_dir, project)
        )
    except HueyctlError as exc:  # the check could not look: UNKNOWN, never CRITICAL
        findings = [health.Finding(health.Level.UNKNOWN, "", "", str(exc))]
        text = f"HUEY UNKNOWN: {exc}"
    else:
        findings = health.check(surveys, max_pending, max_age)
        text = "\n".join([health.summary(surveys, findings), *map(str, findings)])
    level = health.verdict(findings)
    emit([{"status": level.name, "problems": [f.row() for f in findings]}], json, text=text)
    raise typer.Exit(int(level))


@command()
def dashboard(
    manifest: Subject = None,
    manifest_option: ManifestOpt = None,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="address to listen on")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="TCP port")] = 8642,
    project: Project = None,
    state_dir: StateDir = None,
) -> None:
    """Serve a live web page, a JSON API and /metrics for the deployment(s).

    Off loopback it needs a token: HUEYCTL_DASHBOARD_TOKEN or the manifest's
    `dashboard: {token: ${VAR}}`; open http://HOST:PORT/?token=... once in a browser.
    """
    from hueyctl.dashboard.guard import Guard, configured_token
    from hueyctl.dashboard.server import Dashboard

    path = subject(manifest, manifest_option)
    guard = Guard(host, configured_token(deployments(path, state_dir, project)))
    server = Dashboard(host, port, lambda: deployments(path, state_dir, project), guard)
    typer.echo(f"hueyctl dashboard: {server.url}", err=True)
    server.serve()


def main() -> None:
    app()
