"""Turn Django's ``settings.HUEY`` (a Huey, or a dict in huey 3's format) into a Huey and
the consumer options it declares. Kept apart from Django so the translation is tested alone."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from huey.api import Huey
from huey.consumer.options import NO_EFFECT, ConsumerOptions, lock_names
from huey.exceptions import ConfigurationError


def import_string(path: str) -> Any:
    """``package.module.Name`` -> the object, for huey 3's ``huey_class`` setting."""
    module_name, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"HUEY['huey_class']: cannot import {path!r}: {exc}") from None


def huey_from_setting(setting: Any, debug: bool = False, default_name: str = "huey") -> Huey:
    """The Huey that ``settings.HUEY`` describes.

    A Huey is used as it is. A dict follows huey 3: ``huey_class`` (default
    ``huey.RedisHuey``), ``name``, ``immediate`` (default: ``settings.DEBUG``),
    ``connection`` (storage keywords: ``url``, ``host``, ``port``, ``db``, ...), and the
    class's own keywords (``results``, ``store_none``, ``utc``, ``url``, ``filename``, ...).
    ``consumer`` is read by :func:`consumer_settings`.
    """
    if isinstance(setting, Huey):
        return setting
    if setting is None:
        setting = {}
    if not isinstance(setting, Mapping):
        raise ConfigurationError(
            f"settings.HUEY must be a Huey instance or a dict, not {type(setting).__name__}"
        )
    config = dict(setting)
    config.pop("consumer", None)
    huey_class = config.pop("huey_class", "huey.RedisHuey")
    if isinstance(huey_class, str):
        huey_class = import_string(huey_class)
    name = str(config.pop("name", default_name))
    config.setdefault("immediate", debug)
    return huey_class(name, **{**config.pop("connection", {}), **config})


def name_from_databases(databases: Mapping[str, Any]) -> str:
    """huey 3 names the queue after the default database; here its last path part, since
    a Huey name holds no '/' (an SQLite NAME is a path)."""
    name = (databases.get("default") or {}).get("NAME")
    return PurePath(str(name)).name if name else "huey"


def consumer_settings(setting: Any) -> dict[str, Any]:
    """ConsumerOptions fields from ``HUEY["consumer"]`` (a dict setting only); huey 3's
    options without effect here (polling, graceful signal) are dropped, an unknown key is
    a ConfigurationError."""
    if not isinstance(setting, Mapping):
        return {}
    fields = {f.name for f in dataclasses.fields(ConsumerOptions)}
    options = {}
    for key, value in dict(setting.get("consumer") or {}).items():
        if key == "extra_locks" and isinstance(value, str):
            options[key] = lock_names(value)  # huey 3 writes them comma-separated
        elif key in fields:
            options[key] = value
        elif key not in NO_EFFECT:
            raise ConfigurationError(
                f"HUEY['consumer'][{key!r}] is not a consumer option; known: "
                + ", ".join(sorted(fields | set(NO_EFFECT)))
            )
    return options
