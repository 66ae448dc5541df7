"""The deployment a manifest describes, as frozen values: instances, schedules, http."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huey.consumer.options import ConsumerOptions
from hueyctl.errors import BadInput
from hueyctl.values import conceal, mask_url

# The ConsumerOptions fields a manifest sets, with their type checks (the others,
# logfile and quiet, belong to the command line: supervisord keeps the logs).
CONSUMER_KEYS: dict[str, str] = {
    "workers": "positive_int",
    "worker_type": "worker_type",
    "periodic": "bool",
    "global_scheduler": "bool",
    "utc": "bool",
    "shutdown_timeout": "seconds",
    "heartbeat_timeout": "seconds",
    "flush_locks": "bool",
    "verbose": "bool",
}


@dataclass(frozen=True)
class Schedule:
    """A periodic task declared in the manifest: run ``task`` when ``cron`` matches."""

    name: str
    task: str
    cron: str


@dataclass(frozen=True)
class Instance:
    """One Huey instance: one application object, one storage, one supervised consumer."""

    name: str
    app: str
    storage: str
    # A Django project's settings module: Django is set up before ``app`` is imported.
    django_settings: str | None = None
    # The consumer's flags, from the manifest keys named like CONSUMER_KEYS.
    options: ConsumerOptions = field(default_factory=ConsumerOptions)
    startsecs: int = 2
    pre_execute: tuple[str, ...] = ()
    post_execute: tuple[str, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # What a consumer asks of an orchestrator (``hueyctl export``): "cpu", "memory".
    resources: Mapping[str, str] = field(default_factory=dict)
    # How many consumers an orchestrator runs (``hueyctl export``); ``up`` runs one a host.
    replicas: int = 1


@dataclass(frozen=True)
class Http:
    """An optional TCP listener for supervisord (its web UI and XML-RPC)."""

    port: int
    username: str
    password: str  # "${VAR}" (read by supervisord from its environment) or "{SHA}<hex>"
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class Dashboard:
    """Settings of `hueyctl dashboard` for this deployment."""

    token: str  # "${VAR}": read from the environment, never written in the manifest


@dataclass(frozen=True)
class Manifest:
    """One deployment: a project of instances, with where its state lives."""

    path: Path
    project: str
    state_dir: Path
    instances: Mapping[str, Instance]
    env: Mapping[str, str] = field(default_factory=dict)
    http: Http | None = None
    dashboard: Dashboard | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def line(self, dotted: str) -> int:
        return line_of(self.lines, dotted)

    def instance(self, name: str) -> Instance:
        if name not in self.instances:
            hint = did_you_mean(name, self.instances)
            raise BadInput(f"{self.path}: no instance {name!r}{hint}")
        return self.instances[name]

    def environment(self, instance: Instance) -> dict[str, str]:
        """The manifest's env overlaid with the instance's, ``${VAR}`` left unresolved."""
        return {**self.env, **instance.env}

    def settings(self, instance: Instance) -> dict[str, Any]:
        """Everything that shapes the instance's consumer, flat, to compare two deploys;
        env values and a storage password are digests, so the record holds no secret."""
        flat: dict[str, Any] = {
            "app": instance.app,
            "storage": mask_url(instance.storage, conceal),
            "startsecs": instance.startsecs,
        }
        if instance.django_settings:  # only then: deployments recorded before it stay equal
            flat["django_settings"] = instance.django_settings
        flat.update((key, getattr(instance.options, key)) for key in CONSUMER_KEYS)
        flat["hooks.pre_execute"] = list(instance.pre_execute)
        flat["hooks.post_execute"] = list(instance.post_execute)
        for s in instance.schedules:
            flat[f"schedules.{s.name}"] = f"{s.task} {s.cron}"
        for key, value in self.environment(instance).items():
            flat[f"env.{key}"] = conceal(value)
        flat["manifest"] = str(self.path)
        return flat


def line_of(lines: Mapping[str, int], dotted: str) -> int:
    """The line of ``dotted`` (or of its nearest parent) in the manifest file."""
    while dotted not in lines and "." in dotted:
        dotted = dotted.rsplit(".", 1)[0]
    return lines.get(dotted, 1)


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
