"""The checks behind each manifest value, and ``${VAR}`` references in values.

A check returns None when the value is fine, else a message that says what to write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from huey.consumer.options import WORKER_TYPES
from huey.crontab import parse_cron

VERSION = 1
STORAGE_SCHEMES = ("redis", "rediss", "unix", "sqlite")
SAFE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}\Z")
IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# "${NAME}" reads the environment; "$$" is a literal "$".
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHA_PASSWORD = re.compile(r"\{SHA\}[0-9a-f]{40}\Z")


def expand(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` with its value in ``environ`` and ``$$`` with ``$``."""
    return VARIABLE.sub(lambda m: "$" if m.group(1) is None else environ[m.group(1)], text)


def missing_variables(text: str, environ: Mapping[str, str]) -> list[str]:
    """The ``${VAR}`` names in ``text`` that ``environ`` does not set."""
    return [m.group(1) for m in VARIABLE.finditer(text) if m.group(1) and m.group(1) not in environ]


@dataclass(frozen=True)
class Kind:
    """What a value must be, and the check that says what is wrong with one that is not."""

    expected: str
    problem: Callable[[Any], str | None]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_cron(value: Any) -> str | None:
    if not isinstance(value, str):
        return 'must be a 5-field cron string such as "0 3 * * *"'
    try:
        parse_cron(value)
    except ValueError as exc:
        return f"bad cron expression {value!r}: {exc}"
    return None


def _check_storage(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a storage URL such as redis://127.0.0.1:6379/0 or sqlite:///tasks.db"
    scheme = value.partition("://")[0]
    if scheme == "memory":
        return (
            "memory:// lives inside one process, so the consumer could never see the tasks "
            "your application enqueues; use sqlite:///path or redis://"
        )
    if scheme == "sqlite" and not value.startswith("sqlite:///"):
        return f"{value!r}: write sqlite:///relative/to/manifest.db or sqlite:////absolute.db"
    if scheme not in STORAGE_SCHEMES or "://" not in value:
        return f"unknown storage URL {value!r}; use one of " + ", ".join(
            f"{s}://" for s in STORAGE_SCHEMES
        )
    return None


def _simple(expected: str, ok: Callable[[Any], bool], extra: str = "") -> Kind:
    return Kind(expected, lambda v: None if ok(v) else f"must be {expected}{extra}, not {v!r}")


KINDS: dict[str, Kind] = {
    "version": _simple(f"{VERSION}", lambda v: v == VERSION, " (the only manifest version)"),
    "name": _simple(
        "a name of lowercase letters, digits, '_' or '-'",
        lambda v: isinstance(v, str) and bool(SAFE_NAME.match(v)),
    ),
    "path": _simple("a path", lambda v: isinstance(v, str) and v != ""),
    "import": _simple(
        "an import path like 'package.module:name'",
        lambda v: isinstance(v, str) and bool(IMPORT_PATH.match(v)),
    ),
    "storage": Kind("a storage URL", _check_storage),
    "positive_int": _simple("a whole number of at least 1", lambda v: _is_int(v) and v >= 1),
    "seconds": _simple(
        "a number of seconds (0 or more)",
        lambda v: (_is_int(v) or isinstance(v, float)) and v >= 0,
    ),
    "seconds_int": _simple(
        "a whole number of seconds (0 or more)", lambda v: _is_int(v) and v >= 0
    ),
    "worker_type": _simple("one of " + ", ".join(WORKER_TYPES), lambda v: v in WORKER_TYPES),
    "bool": _simple("true or false", lambda v: isinstance(v, bool)),
    "env_value": _simple(
        "a string, number or boolean",
        lambda v: isinstance(v, (str, int, float, bool)),
    ),
    "cron": Kind("a cron string", _check_cron),
    "task": Kind("an import path", lambda v: KINDS["import"].problem(v)),
    "port": _simple("a TCP port (1-65535)", lambda v: _is_int(v) and 0 < v < 65536),
    "host": _simple("a host name or address", lambda v: isinstance(v, str) and v != ""),
    "username": _simple(
        "a user name without spaces",
        lambda v: isinstance(v, str) and bool(re.fullmatch(r"[^\s%]+", v)),
    ),
    "password": _simple(
        '"${VAR}" (supervisord reads it from its environment) or a "{SHA}" hex digest',
        lambda v: isinstance(v, str) and bool(_SHA_PASSWORD.match(v) or _only_variable(v)),
        "; a clear-text password would be written into supervisord.conf",
    ),
}


def _only_variable(text: str) -> bool:
    match = VARIABLE.fullmatch(text)
    return bool(match and match.group(1))
