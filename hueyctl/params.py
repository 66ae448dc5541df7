"""The arguments and options hueyctl's commands share, declared once, and the help
format that shows them by name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from hueyctl.errors import HueyctlError
from hueyctl.statedir import STATE_DIR_ENV
from hueyctl.target import deployments


class Command(TyperCommand):
    """Help that shows an argument by its name and its help, without a type like <str>
    (every option that takes a value declares a metavar for the same reason)."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        sections = {
            "Arguments": [
                (p.metavar or p.name, p.help) for p in params if p.param_type_name == "argument"
            ],
            "Options": [p.get_help_record(ctx) for p in params if p.param_type_name == "option"],
        }
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl([row for row in rows if row])


def complete_instance(ctx: typer.Context, incomplete: str) -> list[str]:
    """Instance names of the deployment the command line names so far (shell completion)."""
    given = ctx.params
    try:
        models = deployments(
            given.get("manifest") or given.get("manifest_option"),
            given.get("state_dir"),
            given.get("project"),
        )
    except HueyctlError:
        return []
    return sorted({n for m in models for n in m.instances if n.startswith(incomplete)})


# The options every command that reads a deployment takes, declared once.


Subject = Annotated[
    Path | None,
    typer.Argument(
        metavar="MANIFEST", help="the deployment's manifest; default: the one(s) `up` recorded"
    ),
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest", "-m", metavar="PATH", help="the deployment's manifest; default: recorded ones"
    ),
]
Project = Annotated[
    str | None,
    typer.Option("--project", "-p", metavar="NAME", help="the recorded deployment of this project"),
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=STATE_DIR_ENV,
        metavar="DIR",
        help="supervisord's files here, not in the manifest's state_dir",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Instance = Annotated[
    str,
    typer.Argument(metavar="INSTANCE", help="instance name", autocompletion=complete_instance),
]
OptionalInstance = Annotated[
    str | None,
    typer.Argument(
        metavar="INSTANCE",
        help="instance name; default: every instance",
        autocompletion=complete_instance,
    ),
]
InstanceOpt = Annotated[
    str | None,
    typer.Option(
        "--instance", "-i", metavar="NAME", help="instance name", autocompletion=complete_instance
    ),
]
Args = Annotated[
    bool, typer.Option("--args", help="also show arguments (unpickles them; verified first)")
]
Limit = Annotated[int | None, typer.Option("--limit", "-n", metavar="N", help="show at most N")]
TaskId = Annotated[str | None, typer.Argument(metavar="TASK_ID", help="the task's id")]
