"""Load a manifest: YAML with a line number for every key -> checked -> hueyctl.model.

Validation collects every problem before it raises, so one run shows them all; each
problem names the file, the line and the dotted field (``instances.emails.workers``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from huey.consumer.options import ConsumerOptions
from hueyctl import statedir
from hueyctl.djangoapp import DJANGO_APP
from hueyctl.errors import ManifestError, Problem
from hueyctl.model import (
    CONSUMER_KEYS,
    Dashboard,
    Http,
    Instance,
    Manifest,
    Schedule,
    did_you_mean,
    line_of,
)
from hueyctl.values import (
    ENV_NAME,
    KINDS,
    SAFE_NAME,
    SQLITE_PREFIX,
    config_path_problem,
    creatable_directory_problem,
    expand,
    missing_variables,
    storage_directory,
)


def default_storage(state_dir: Path, instance: str) -> str:
    """An instance without ``storage:`` gets an embedded SQLite database in the state directory."""
    return SQLITE_PREFIX + str(state_dir / f"{instance}.db")


def load(
    path: str | os.PathLike,
    environ: Mapping[str, str] | None = None,
    state_dir: str | os.PathLike | None = None,
    resolve: bool = True,
    text: str | None = None,
) -> Manifest:
    """Read and validate a manifest; raise ManifestError listing every problem.

    ``state_dir`` (relative to the current directory) replaces the manifest's own, so
    one manifest can be deployed with its state elsewhere (``--state-dir``). With
    ``resolve`` false an unset ``${VAR}`` is no problem: commands that only look at a
    deployment, or stop it, work from a shell without its secrets. ``text``, when
    given, is read instead of the file (a copy `up` kept), still as if at ``path``.
    """
    path = Path(path).expanduser().absolute()
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except OSError as exc:
        raise ManifestError([Problem(shown, 1, "(file)", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(shown, 1, "(file)", f"not UTF-8 text: {exc}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ManifestError([_yaml_problem(shown, exc)]) from None
    if environ is None:
        environ = os.environ
    checker = _Checker(shown, environ if resolve else None, state_dir)
    manifest = checker.manifest(root, path)
    if checker.problems:
        raise ManifestError(checker.problems)
    assert manifest is not None
    return manifest


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    """A syntax error at the line where the broken token starts: a quote left open is
    found only at the end of the file, but the scanner marks where it was opened."""
    mark = getattr(exc, "problem_mark", None)
    reason = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.scanner.ScannerError) and exc.context_mark is not None:
        mark, reason = exc.context_mark, f"{exc.context}: {reason}"
    return Problem(file, mark.line + 1 if mark else 1, "(yaml)", reason)


_TOP_KEYS = ("version", "project", "state_dir", "env", "http", "dashboard", "instances")
# Top-level keys named x-... are the operator's own, e.g. to hold an anchor that
# instances merge (``<<: *defaults``), as in docker compose files.
_EXTENSION_PREFIX = "x-"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_HTTP_KEYS = ("port", "host", "username", "password")
_DASHBOARD_KEYS = ("token",)
_HOOK_KEYS = ("pre_execute", "post_execute")
_SCHEDULE_KEYS = ("task", "cron")  # required
_SCHEDULE_ARGUMENTS = ("args", "kwargs")
_INSTANCE_SCALARS = {
    "app": "import",
    "django_settings": "module",
    "storage": "storage",
    **CONSUMER_KEYS,
    "startsecs": "seconds_int",
    "replicas": "positive_int",
}
_INSTANCE_KEYS = (*_INSTANCE_SCALARS, "hooks", "schedules", "env", "resources")
_RESOURCE_KEYS = ("cpu", "memory")


class _Checker:
    """Walks the YAML node tree, records line numbers and problems, builds the model."""

    def __init__(
        self,
        file: str,
        environ: Mapping[str, str] | None,
        override: str | os.PathLike | None,
    ) -> None:
        self.file = file
        self.environ = environ
        self.override = override
        self.state_dir = Path()  # located once the manifest's own state_dir is read
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}

    def problem(self, node: yaml.Node | None, name: str, message: str) -> None:
        """Record a problem at ``node``, or (None) at the line of ``name``'s key."""
        line = node.start_mark.line + 1 if node is not None else line_of(self.lines, name)
        self.problems.append(Problem(self.file, line, name, message))

    def mapping(self, node: yaml.Node, name: str, allowed: tuple[str, ...]) -> dict:
        """A mapping's key -> value node, merges (``<<``) included; reports non-mappings,
        duplicates and unknown keys. A merged key is at the line it is written on."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, name, f"must be a mapping, not {_kind(node)}")
            return {}
        own, merged = self.pairs(node, name)
        found: dict[str, yaml.Node] = {}
        first_lines: dict[str, int] = {}
        for i, (key_node, value_node) in enumerate(own + merged):
            key = str(_scalar(key_node))
            dotted = f"{name}.{key}" if name else key
            if key in first_lines:
                # A key written in the mapping overrides a merged one, as in YAML.
                if i < len(own):
                    first = first_lines[key]
                    self.problem(key_node, dotted, f"duplicate key (first defined on line {first})")
                continue
            first_lines[key] = key_node.start_mark.line + 1
            if key.startswith(_EXTENSION_PREFIX) and not name:
                continue
            if allowed and key not in allowed:
                self.problem(key_node, dotted, "unknown key" + did_you_mean(key, allowed))
                continue
            self.lines[dotted] = key_node.start_mark.line + 1
            found[key] = value_node
        return found

    def pairs(
        self, node: yaml.MappingNode, name: str, within: tuple[yaml.Node, ...] = ()
    ) -> tuple[list, list]:
        """The (key, value) nodes written in a mapping, and those its ``<<`` keys merge in
        (``<<: *base`` or ``<<: [*a, *b]``: earlier ones win); ``within``: the mappings
        being merged into, so a mapping that merges itself is reported, not followed."""
        own, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            many = isinstance(value_node, yaml.SequenceNode)
            for source in value_node.value if many else [value_node]:
                where = f"{name}.<<" if name else "<<"
                if not isinstance(source, yaml.MappingNode):
                    self.problem(source, where, f"merges a mapping, not {_kind(source)}")
                elif any(source is outer for outer in (*within, node)):
                    self.problem(key_node, where, "a mapping cannot merge itself")
                else:
                    merged += sum(self.pairs(source, name, (*within, node)), [])
        return own, merged

    def value(self, node: yaml.Node, name: str, kind: str) -> Any:
        """A scalar checked against ``kind``; None (after reporting) when it is wrong."""
        check = KINDS[kind]
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, name, f"must be {check.expected}, not {_kind(node)}")
            return None
        value = _scalar(node)
        message = check.problem(value)
        if message:
            self.problem(node, name, message)
            return None
        if isinstance(value, str) and self.environ is not None:
            for var in missing_variables(value, self.environ):
                self.problem(node, name, f"${{{var}}} is not set in the environment")
        return value

    def string_map(self, node: yaml.Node, name: str) -> dict[str, str]:
        result = {}
        for key, value_node in self.mapping(node, name, ()).items():
            dotted = f"{name}.{key}"
            if not ENV_NAME.match(key):
                self.problem(value_node, dotted, "not a valid environment variable name")
            value = self.value(value_node, dotted, "env_value")
            if value is not None:
                result[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return result

    def import_list(self, node: yaml.Node, name: str) -> tuple[str, ...]:
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items is None:
            self.problem(node, name, f"must be a list of import paths, not {_kind(node)}")
            return ()
        return tuple(
            v for i, item in enumerate(items) if (v := self.value(item, f"{name}[{i}]", "import"))
        )

    def manifest(self, root: yaml.Node | None, path: Path) -> Manifest | None:
        if root is None:
            self.problem(None, "version", "the manifest is empty; `hueyctl init` writes one")
            return None
        top = self.mapping(root, "", _TOP_KEYS)
        if not isinstance(root, yaml.MappingNode):
            return None
        for key in ("version", "project", "instances"):
            if key not in top:
                self.problem(root, key, "required key is missing")
        if "version" in top:
            self.value(top["version"], "version", "version")
        project = self.value(top["project"], "project", "name") if "project" in top else None
        state = self.value(top["state_dir"], "state_dir", "path") if "state_dir" in top else None
        state_dir = self.state_dir = statedir.locate(path.parent, state, self.override)
        unusable = statedir.location_problem(state_dir) or config_path_problem(str(state_dir))
        if unusable:
            self.problem(top.get("state_dir", root), "state_dir", unusable)
        unusable = config_path_problem(str(path))
        if unusable:
            self.problem(None, "(file)", unusable)
        env = self.string_map(top["env"], "env") if "env" in top else {}
        http = self.http(top["http"]) if "http" in top else None
        dashboard = self.dashboard(top["dashboard"]) if "dashboard" in top else None
        instances = self.instances(top.get("instances"))
        if self.problems:
            return None
        return Manifest(path, project, state_dir, instances, env, http, dashboard, dict(self.lines))

    def http(self, node: yaml.Node) -> Http | None:
        keys = self.mapping(node, "http", _HTTP_KEYS)
        for key in ("port", "username", "password"):
            if key not in keys:
                self.problem(node, f"http.{key}", "required key is missing")
        values = {k: self.value(n, f"http.{k}", k) for k, n in keys.items()}
        if None in values.values() or len(values) < 3:
            return None
        return Http(**values)

    def dashboard(self, node: yaml.Node) -> Dashboard | None:
        keys = self.mapping(node, "dashboard", _DASHBOARD_KEYS)
        if "token" not in keys:
            self.problem(node, "dashboard.token", "required key is missing")
            return None
        token = self.value(keys["token"], "dashboard.token", "token")
        return None if token is None else Dashboard(token)

    def instances(self, node: yaml.Node | None) -> dict[str, Instance]:
        if node is None:
            return {}
        found = self.mapping(node, "instances", ())
        if isinstance(node, yaml.MappingNode) and not node.value:
            self.problem(node, "instances", "declare at least one instance")
        result = {}
        for name, value_node in found.items():
            if not SAFE_NAME.match(name):
                self.problem(
                    None,
                    f"instances.{name}",
                    "instance names must start with a lowercase letter and hold only "
                    "a-z, 0-9, '_' and '-' (at most 40 characters)",
                )
            instance = self.instance(name, value_node)
            if instance is not None:
                result[name] = instance
        self.shared_storage(result)
        return result

    def instance(self, name: str, node: yaml.Node) -> Instance | None:
        prefix = f"instances.{name}"
        keys = self.mapping(node, prefix, _INSTANCE_KEYS)
        if isinstance(node, yaml.MappingNode) and not {"app", "django_settings"} & set(keys):
            self.problem(None, f"{prefix}.app", "required key is missing")
        values: dict[str, Any] = {"storage": default_storage(self.state_dir, name)}
        if "django_settings" in keys:
            values["app"] = DJANGO_APP
        for key, kind in _INSTANCE_SCALARS.items():
            if key in keys:
                values[key] = self.value(keys[key], f"{prefix}.{key}", kind)
        if values["storage"] is not None:
            self.storage_directory(values["storage"], f"{prefix}.storage")
        if "hooks" in keys:
            hooks = self.mapping(keys["hooks"], f"{prefix}.hooks", _HOOK_KEYS)
            for key, hook_node in hooks.items():
                values[key] = self.import_list(hook_node, f"{prefix}.hooks.{key}")
        if "schedules" in keys:
            values["schedules"] = self.schedules(keys["schedules"], f"{prefix}.schedules")
        if "env" in keys:
            values["env"] = self.string_map(keys["env"], f"{prefix}.env")
        if "resources" in keys:
            values["resources"] = self.resources(keys["resources"], f"{prefix}.resources")
        if None in values.values() or "app" not in values:
            return None
        options = {k: values.pop(k) for k in CONSUMER_KEYS if k in values}
        return Instance(name=name, options=ConsumerOptions(**options), **values)

    def storage_directory(self, url: str, name: str) -> None:
        """The directory of a SQLite file or of a file storage must be one this user can
        write in, or create."""
        if self.environ is None or missing_variables(url, self.environ):
            return  # not resolving, or reported already
        directory = storage_directory(expand(url, self.environ), Path(self.file).parent)
        unusable = directory and creatable_directory_problem(directory)
        if unusable:
            self.problem(None, name, unusable)

    def resources(self, node: yaml.Node, prefix: str) -> dict[str, str] | None:
        """Resource requests (``cpu``, ``memory``) as Kubernetes quantities; None if wrong."""
        found = self.mapping(node, prefix, _RESOURCE_KEYS)
        values = {k: self.value(n, f"{prefix}.{k}", "quantity") for k, n in found.items()}
        if None in values.values():
            return None
        return {key: str(value) for key, value in sorted(values.items())}

    def schedules(self, node: yaml.Node, prefix: str) -> tuple[Schedule, ...]:
        result = []
        for name, entry in self.mapping(node, prefix, ()).items():
            where = f"{prefix}.{name}"
            keys = self.mapping(entry, where, (*_SCHEDULE_KEYS, *_SCHEDULE_ARGUMENTS))
            values = {}
            for key in _SCHEDULE_KEYS:
                if key in keys:
                    values[key] = self.value(keys[key], f"{where}.{key}", key)
                elif isinstance(entry, yaml.MappingNode):
                    self.problem(None, f"{where}.{key}", "required key is missing")
            args = self.data(keys["args"], f"{where}.args", list) if "args" in keys else []
            kwargs = self.data(keys["kwargs"], f"{where}.kwargs", dict) if "kwargs" in keys else {}
            if len(values) == 2 and None not in (*values.values(), args, kwargs):
                result.append(Schedule(name, values["task"], values["cron"], tuple(args), kwargs))
        return tuple(result)

    def data(self, node: yaml.Node, name: str, kind: type) -> Any:
        """Plain YAML data (a schedule's arguments) of ``kind``; None after reporting."""
        wanted = "a list" if kind is list else "a mapping"
        if not isinstance(node, yaml.SequenceNode if kind is list else yaml.MappingNode):
            self.problem(node, name, f"must be {wanted}, not {_kind(node)}")
            return None
        value = yaml.SafeLoader("").construct_object(node, deep=True)
        if kind is dict and not all(isinstance(key, str) and key.isidentifier() for key in value):
            self.problem(node, name, "keys must be argument names")
            return None
        return value

    def shared_storage(self, instances: dict[str, Instance]) -> None:
        """Two instances on one Huey object would share its storage, hence one queue.
        (Different objects on one storage with one Huey name: see bind.check_imports.)"""
        seen: dict[str, str] = {}
        for name, instance in instances.items():
            if instance.app in seen:
                self.problem(
                    None,
                    f"instances.{name}.app",
                    f"same Huey object as instance {seen[instance.app]!r}: the two would share "
                    "one queue; give each instance its own Huey object and storage",
                )
            seen.setdefault(instance.app, name)


def _scalar(node: yaml.Node) -> Any:
    return yaml.SafeLoader("").construct_object(node) if isinstance(node, yaml.ScalarNode) else None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = _scalar(node)
    return "nothing" if value is None else f"{value!r}"
