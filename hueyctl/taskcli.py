"""hueyctl's task commands: look at, stop, re-run and clear an instance's tasks, through
the instance's own storage (registered on the app in :mod:`hueyctl.cli`)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer

from hueyctl import chores, fleet
from hueyctl.errors import BadInput, OperationFailed
from hueyctl.output import emit
from hueyctl.params import (
    Args,
    Command,
    Instance,
    InstanceOpt,
    Json,
    Limit,
    ManifestOpt,
    Project,
    StateDir,
    TaskId,
)
from hueyctl.target import deployments

tasks = typer.Typer()
command = functools.partial(tasks.command, cls=Command)


@command()
def revoke(
    task_id: TaskId = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="NAME", help="revoke every run of a task")
    ] = None,
    instance: InstanceOpt = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="WHEN", help="until 30m, 2h, 1d from now, or an ISO time"),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="skip the next run only")] = False,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Stop a task (by id, or every run of one by --task NAME) from running."""
    if (task_id is None) == (task is None):
        raise BadInput("give a TASK_ID or --task NAME (one of them)")
    when = fleet.parse_when(until) if until else None
    models = deployments(manifest_option, state_dir, project)
    if task is not None:
        rows = fleet.revoke_task(models, task, instance, when, once)
    else:
        rows = [fleet.revoke(models, task_id, instance, when, once)]
    emit(rows, json)


@command()
def restore(
    task_id: TaskId = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="NAME", help="restore a whole task")
    ] = None,
    instance: InstanceOpt = None,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Undo a revoke (of one task id, or of a whole task with --task NAME)."""
    if (task_id is None) == (task is None):
        raise BadInput("give a TASK_ID or --task NAME (one of them)")
    models = deployments(manifest_option, state_dir, project)
    if task is not None:
        rows = fleet.revoke_task(models, task, instance, restore=True)
    else:
        rows = fleet.restore(models, task_id, instance)
    emit(rows, json)


@command()
def pending(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    limit: Limit = None,
    args: Args = False,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Tasks waiting in an instance's queue."""
    models = deployments(manifest_option, state_dir, project)
    emit(fleet.tasks(models, instance, "pending", limit, args), json)


@command()
def scheduled(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    limit: Limit = None,
    args: Args = False,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Tasks waiting for their execute time."""
    models = deployments(manifest_option, state_dir, project)
    emit(fleet.tasks(models, instance, "scheduled", limit, args), json)


@command()
def results(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    limit: Limit = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Results stored and not yet read, with their values (verified, then unpickled)."""
    models = deployments(manifest_option, state_dir, project)
    emit(chores.results(models, instance, limit), json)


@command()
def errors(
    instance: Instance,
    manifest_option: ManifestOpt = None,
    limit: Limit = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Recorded task failures, newest first, with their times in UTC."""
    rows = chores.errors(deployments(manifest_option, state_dir, project), instance, limit)
    emit(rows, json, ["instance", "task_id", "task", "error", "time", "retryable"])


def _flag(name: str, help_text: str) -> Any:
    return typer.Option(name, help=help_text)


@command()
def purge(
    instance: Instance,
    queue: Annotated[bool, _flag("--queue", "tasks waiting to run")] = False,
    schedule: Annotated[bool, _flag("--schedule", "tasks waiting for their time")] = False,
    results: Annotated[bool, _flag("--results", "results not yet read")] = False,
    errors: Annotated[bool, _flag("--errors", "the error store")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask first")] = False,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Empty what is named of an instance's storage; print how many entries went."""
    named_parts = zip(chores.PARTS, (queue, schedule, results, errors), strict=True)
    parts = [part for part, wanted in named_parts if wanted]
    if not parts:
        raise BadInput("name what to purge: --queue, --schedule, --results and/or --errors")
    models = deployments(manifest_option, state_dir, project)
    if not yes:
        sizes = chores.sizes(models, instance, parts)
        listed = ", ".join(f"{part} ({count})" for part, count in sizes.items())
        if not typer.confirm(f"{instance}: empty {listed}?", err=True):
            raise OperationFailed("nothing purged")
    emit([chores.purge(models, instance, parts)], json)


@command()
def retry(
    instance: Instance,
    task_id: TaskId = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="NAME", help="every failed run of a task")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="every task whose last failure was final")
    ] = False,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Re-enqueue failed tasks from the error store, each under a new task id.

    Exits 1 (after the mapping) if a kept message cannot be read or does not verify.
    """
    if (task_id is not None) + (task is not None) + every != 1:
        raise BadInput("give a TASK_ID, --task NAME or --all (one of them)")
    rows = chores.retry(deployments(manifest_option, state_dir, project), instance, task_id, task)
    mapping = "\n".join(f"{r['task_id']} -> {r['new_task_id'] or r['note']}" for r in rows)
    emit(rows, json, text=mapping)
    if any(row["new_task_id"] is None for row in rows):
        raise OperationFailed("some failed tasks were not retried")


@command()
def call(
    instance: Instance,
    task: Annotated[
        str, typer.Argument(metavar="TASK", help="module.function (its name) or module:function")
    ],
    args: Annotated[
        str | None, typer.Option("--args", metavar="JSON", help="positional arguments: a list")
    ] = None,
    kwargs: Annotated[
        str | None, typer.Option("--kwargs", metavar="JSON", help="keyword arguments: an object")
    ] = None,
    delay: Annotated[
        float | None, typer.Option("--delay", metavar="S", help="run in S seconds")
    ] = None,
    eta: Annotated[
        str | None, typer.Option("--eta", metavar="ISO", help="run at this time (naive: local)")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="print its result or error")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="S", help="how long --wait waits")
    ] = 60.0,
    manifest_option: ManifestOpt = None,
    project: Project = None,
    state_dir: StateDir = None,
    json: Json = False,
) -> None:
    """Enqueue a task by name and print its id; --wait also prints its result (exit 1 if
    it fails or none comes in time)."""
    models = deployments(manifest_option, state_dir, project)
    result = chores.call(models, instance, task, args, kwargs, delay, eta)
    row = {"instance": instance, "task": task, "task_id": result.task_id}
    if wait:
        if not json:
            typer.echo(result.task_id)
        row.update(chores.outcome(result, timeout))
    emit([row], json, text=row["value"] if wait else row["task_id"])
