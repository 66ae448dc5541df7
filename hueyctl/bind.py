"""Bind an application's Huey objects to what the manifest says: storage, hooks, schedules.

The manifest is the single source of truth: the consumer (through the launcher), hueyctl
itself, and the application that enqueues all call :func:`bind`, so they reach the same
storage without repeating it::

    import hueyctl
    hueyctl.bind("deploy/manifest.yaml")   # once, at startup
    send_email("a@example.com")            # tasks are used as usual
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from hueyctl.djangoapp import settings_problem, setup_django
from hueyctl.errors import BadInput, ManifestError, MissingVariable, Problem
from hueyctl.manifest import default_storage, load
from hueyctl.model import Instance, Manifest, Schedule
from hueyctl.statedir import STATE_DIR_ENV
from hueyctl.values import (
    SQLITE_PREFIX,
    expand,
    expand_url,
    file_directory,
    sqlite_file,
    storage_directory,
)

# (manifest path, instance) -> (settings it was bound with, the Huey object)
_bound: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {}


def import_object(path: str) -> Any:
    """``package.module:attribute`` -> the object; ImportError or AttributeError if absent."""
    module_name, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def storage_url(manifest: Manifest, instance: Instance, environ: Mapping[str, str]) -> str:
    """The instance's storage URL with ``${VAR}`` resolved; a relative SQLite path
    (``sqlite:///tasks.db``) or storage directory (``file:queues``) is relative to the
    manifest, wherever the caller runs."""
    url = expand_url(instance.storage, environ)
    file = sqlite_file(url, manifest.directory)
    if file is not None:
        return SQLITE_PREFIX + str(file)
    directory = file_directory(url, manifest.directory)
    return url if directory is None else "file://" + quote(str(directory))


def create_storage_directory(manifest: Manifest, instance: Instance) -> None:
    """Create the directory of the instance's SQLite file or file storage (the owner's
    only) if it has one: the consumer does so as it starts, so validation checks that it can."""
    url = storage_url(manifest, instance, os.environ)
    directory = storage_directory(url, manifest.directory)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)


def apply_environment(
    manifest: Manifest, instance: Instance, environ: Mapping[str, str]
) -> list[str]:
    """Set the manifest's env, then the instance's, in ``os.environ`` as the consumer
    has it, so an app that reads a variable at import works; a value whose ``${VAR}``
    ``environ`` lacks is left out. Return the names left out."""
    left_out = []
    for key, value in manifest.environment(instance).items():
        try:
            os.environ[key] = expand(value, environ)
        except MissingVariable:
            left_out.append(key)
    return left_out


def use_manifest_directory(manifest: Manifest) -> None:
    """Import paths in a manifest are relative to its directory, like a project root."""
    directory = str(manifest.directory)
    if directory not in sys.path:
        sys.path.insert(0, directory)


def bind(
    manifest: Manifest | str | os.PathLike,
    instances: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Import each instance's Huey object, point it at the manifest's storage, and
    register the manifest's hooks and schedules; return ``{instance name: Huey}``.

    Binding the same instance again with unchanged settings returns the same object.
    Only the storage URL's ``${VAR}`` must be set: an env value whose variable is not
    (a consumer's secret, say) is left out of this process's environment.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(manifest, Manifest):
        # The state directory the consumers use, which holds an instance's default storage.
        manifest = load(manifest, environ, state_dir=environ.get(STATE_DIR_ENV), resolve=False)
    use_manifest_directory(manifest)
    names = list(manifest.instances) if instances is None else list(instances)
    result = {}
    for name in names:
        instance = manifest.instance(name)
        settings = manifest.settings(instance)
        key = (str(manifest.path), name)
        if key in _bound and _bound[key][0] == settings:
            result[name] = _bound[key][1]
            continue
        result[name] = _bind_one(manifest, instance, environ)
        _bound[key] = (settings, result[name])
    return result


def _bind_one(manifest: Manifest, instance: Instance, environ: Mapping[str, str]) -> Any:
    prefix = f"instances.{instance.name}"
    left_out = apply_environment(manifest, instance, environ)
    if instance.django_settings:
        _set_up_django(manifest, f"{prefix}.django_settings", instance.django_settings)
    huey = _imported(manifest, f"{prefix}.app", instance.app, left_out)
    try:
        url = storage_url(manifest, instance, environ)
    except MissingVariable as exc:
        raise _located(manifest, f"{prefix}.storage", str(exc)) from None
    mismatch = _unset_storage(manifest, instance, huey)
    if mismatch:
        raise _located(manifest, f"{prefix}.storage", mismatch)
    huey.use_storage(url)
    for i, path in enumerate(instance.pre_execute):
        hook = _imported(manifest, f"{prefix}.hooks.pre_execute[{i}]", path)
        huey.register_pre_execute(path, hook)
    for i, path in enumerate(instance.post_execute):
        hook = _imported(manifest, f"{prefix}.hooks.post_execute[{i}]", path)
        huey.register_post_execute(path, hook)
    if instance.schedules:
        from huey.crontab import parse_cron

        for schedule in instance.schedules:
            target = _imported(manifest, f"{prefix}.schedules.{schedule.name}.task", schedule.task)
            func = _with_arguments(getattr(target, "func", target), schedule)
            huey.periodic_task(parse_cron(schedule.cron), name=schedule.name)(func)
    return huey


def _set_up_django(manifest: Manifest, field: str, settings_module: str) -> None:
    """setup_django; a project that cannot be set up is a ManifestError at ``field``."""
    try:
        setup_django(settings_module)
    except BadInput:
        raise
    except Exception as exc:  # the project's own settings and apps may raise anything
        message = f"cannot set Django up with {settings_module!r}: {type(exc).__name__}: {exc}"
        raise _located(manifest, field, message) from None


def _with_arguments(func: Any, schedule: Schedule) -> Any:
    """``func`` called with the schedule's arguments (a periodic task runs without any)."""
    if not schedule.args and not schedule.kwargs:
        return func

    @functools.wraps(func)
    def scheduled() -> Any:
        return func(*schedule.args, **schedule.kwargs)

    return scheduled


def _unset_storage(manifest: Manifest, instance: Instance, huey: Any) -> str | None:
    """Why the instance needs ``storage:``: its app names its own storage, so consumers on
    the default SQLite file would never see what the app enqueues; None when it is fine."""
    named = getattr(huey, "named_storage", None)
    if named and instance.storage == default_storage(manifest.state_dir, instance.name):
        return (
            f"not set, but {instance.app} names its own storage ({named}): "
            "give the instance that storage's URL"
        )
    return None


def _imported(manifest: Manifest, field: str, path: str, left_out: Iterable[str] = ()) -> Any:
    """Import ``path``; a failure is a ManifestError located at ``field``, naming the
    env variables ``left_out`` for want of their ``${VAR}``."""
    try:
        return import_object(path)
    except Exception as exc:  # the application's own code may raise anything at import
        message = f"cannot import {path!r}: {exc.__class__.__name__}: {exc}"
        if left_out:
            message += f" (env not set in this shell: {', '.join(left_out)})"
        raise _located(manifest, field, message) from None


def _located(manifest: Manifest, field: str, message: str) -> ManifestError:
    """A ManifestError about ``field``, at its line in the manifest."""
    return ManifestError([Problem(str(manifest.path), manifest.line(field), field, message)])


def check_imports(manifest: Manifest) -> None:
    """Import every app, hook and schedule task, and check that no two instances share
    a queue (same storage URL and Huey name); raise ManifestError with every problem.
    A Django instance's settings module is only found, not run (see hueyctl.djangoapp)."""
    use_manifest_directory(manifest)
    problems: list[Problem] = []
    queues: dict[tuple[str, str], str] = {}
    for name, instance in manifest.instances.items():
        apply_environment(manifest, instance, os.environ)
        prefix = f"instances.{name}"
        if instance.django_settings:
            problem = settings_problem(instance.django_settings)
            field = f"{prefix}.django_settings"
            if problem:
                problems += _located(manifest, field, problem).problems
            continue
        fields = [(f"{prefix}.app", instance.app)]
        fields += [
            (f"{prefix}.hooks.pre_execute[{i}]", p) for i, p in enumerate(instance.pre_execute)
        ]
        fields += [
            (f"{prefix}.hooks.post_execute[{i}]", p) for i, p in enumerate(instance.post_execute)
        ]
        fields += [(f"{prefix}.schedules.{s.name}.task", s.task) for s in instance.schedules]
        for field, path in fields:
            try:
                obj = _imported(manifest, field, path)
            except ManifestError as exc:
                problems += exc.problems
                continue
            if field.endswith(".app"):
                problems += _check_app(manifest, field, obj, instance, queues)
    if problems:
        raise ManifestError(problems)


def _resolved_storage(manifest: Manifest, instance: Instance) -> str:
    """The storage as the consumer reaches it, so two spellings of one SQLite file or
    storage directory (relative and absolute) are one storage; as written if a ``${VAR}``
    is unset."""
    try:
        return storage_url(manifest, instance, os.environ)
    except MissingVariable:
        return instance.storage


def _check_app(
    manifest: Manifest, field: str, app: Any, instance: Instance, queues: dict
) -> list[Problem]:
    def problem(message: str) -> list[Problem]:
        return _located(manifest, field, message).problems

    if not hasattr(app, "use_storage"):
        return problem(f"{instance.app!r} is a {type(app).__name__}, not a Huey object")
    mismatch = _unset_storage(manifest, instance, app)
    if mismatch:
        return _located(manifest, f"instances.{instance.name}.storage", mismatch).problems
    queue = (_resolved_storage(manifest, instance), getattr(app, "name", ""))
    if queue in queues:
        return problem(
            f"same storage and Huey name {queue[1]!r} as instance {queues[queue]!r}: "
            "the two would share one queue"
        )
    queues[queue] = instance.name
    return []
