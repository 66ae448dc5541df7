"""The checks behind each manifest value, and ``${VAR}`` references in values.

A check returns None when the value is fine, else a message that says what to write.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from huey.consumer.options import WORKER_TYPES
from huey.crontab import parse_cron
from hueyctl.errors import MissingVariable

VERSION = 1
STORAGE_SCHEMES = ("redis", "rediss", "redis+sentinel", "rediss+sentinel", "unix", "sqlite")
SAFE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}\Z")
IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# "${NAME}" reads the environment; "$$" is a literal "$".
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A Kubernetes resource quantity: "250m" or "0.5" CPUs, "256Mi" or "1G" of memory.
QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?\Z")
_SHA_PASSWORD = re.compile(r"\{SHA\}[0-9a-f]{40}\Z")
SQLITE_PREFIX = "sqlite:///"
# file:///absolute/dir or file:relative/dir: huey's FileStorage, a directory on one host.
FILE_PREFIX = "file:"
# supervisord.conf cuts a value at " ;" or " #" (an inline comment) and ends it at a line
# break; the command= line is split with shlex, which splits at tabs and eats backslashes,
# and hueyctl quotes a word holding a space with "'".
_CONFIG_BREAKERS = {
    " ;": "' ;'",
    " #": "' #'",
    "\t": "a tab",
    "\\": "a backslash",
    "'": "a quote",
}


def expand(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` with its value in ``environ`` and ``$$`` with ``$``;
    MissingVariable names the first one ``environ`` lacks."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in environ:
            raise MissingVariable(name)
        return environ[name]

    return VARIABLE.sub(value, text)


def expand_url(url: str, environ: Mapping[str, str]) -> str:
    """``expand`` for a storage URL: a value that lands in the user, password or query
    is percent-encoded, so a password holding ``/ # ? @`` stays a password. A variable
    that is the whole URL, or sits in the host or path, is used as it is."""
    secret = [span for span in (_userinfo(url), _query(url)) if span]

    def value(match: re.Match) -> str:
        raw = expand(match.group(0), environ)
        inside = any(start <= match.start() < end for start, end in secret)
        return quote(raw, safe="") if inside and match.group(1) else raw

    return VARIABLE.sub(value, url)


# A query option carrying a password (a Sentinel's own: ``sentinel_password=``).
_PASSWORD_OPTION = re.compile(r"([?&][^=&#]*password=)([^&#]*)")


def mask_url(url: str, mask: Callable[[str], str] = lambda _: "***") -> str:
    """``url`` with each literal password (the user's, and any ``...password=`` option)
    replaced by ``mask(password)``; one written only as ``${VAR}`` names a variable,
    not a secret, and stays."""

    def masked(password: str) -> str:
        return mask(password) if VARIABLE.sub("", password) else password

    url = _PASSWORD_OPTION.sub(lambda m: m.group(1) + masked(m.group(2)), url)
    span = _userinfo(url)
    if span is None:
        return url
    start, end = span
    user, colon, password = url[start:end].partition(":")
    if not colon:
        return url
    return f"{url[:start]}{user}:{masked(password)}{url[end:]}"


def conceal(text: str) -> str:
    """A digest of ``text`` to record instead of it (it may be a secret), so a change
    is still seen; text made only of ``${VAR}`` names is kept as it is."""
    if not VARIABLE.sub("", text):
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


# A "${VAR}" holds no URL delimiter, so an unexpanded URL splits where its value would.
def _userinfo(url: str) -> tuple[int, int] | None:
    """Where the ``user:password`` before the host lies in ``url``, if it has one."""
    begin = url.find("://") + 3
    if begin < 3:
        return None
    end = min((i for i in (url.find(c, begin) for c in "/?#") if i >= 0), default=len(url))
    at = url.rfind("@", begin, end)
    return (begin, at) if at >= 0 else None


def _query(url: str) -> tuple[int, int] | None:
    """Where the ``?query`` of ``url`` lies, if it has one."""
    start = url.find("?")
    if start < 0:
        return None
    end = url.find("#", start)
    return (start, end if end >= 0 else len(url))


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
            "your application enqueues; use sqlite:///path, file:directory or redis://"
        )
    if value.startswith(FILE_PREFIX):
        return _check_file_url(value)
    if scheme == "sqlite" and not value.startswith("sqlite:///"):
        return f"{value!r}: write sqlite:///relative/to/manifest.db or sqlite:////absolute.db"
    if scheme not in STORAGE_SCHEMES or "://" not in value:
        known = ", ".join(f"{s}://" for s in STORAGE_SCHEMES)
        return f"unknown storage URL {mask_url(value)!r}; use one of {known} or {FILE_PREFIX}"
    if scheme in ("redis", "rediss"):
        return _check_port(value)
    return None


def _check_file_url(url: str) -> str | None:
    """A ``file:`` URL names a local directory: no host, and no ``?`` or ``#``, which
    would end its path (they are written ``%3F`` and ``%23``)."""
    split = urlsplit(url)
    if split.netloc in ("", "localhost") and split.path and "?" not in url and "#" not in url:
        return None
    return (
        f"{url!r}: write file:///absolute/dir or file:relative/dir (relative to the "
        "manifest), with ? and # percent-encoded"
    )


def _check_port(url: str) -> str | None:
    """A Redis URL's port must be one a socket can use (a ``${VAR}`` port is known only at
    start); the message never shows the URL, which may hold a password."""
    problem = "the port must be a number from 1 to 65535, as in redis://host:6379/0"
    try:
        split = urlsplit(url)
        if "${" in split.netloc.rpartition("@")[2]:
            return None
        return problem if split.port == 0 else None
    except ValueError:  # not a number, out of range, or a broken [IPv6] host
        return problem


def config_path_problem(path: str) -> str | None:
    """What in ``path`` supervisord's config cannot hold, else None."""
    found = [shown for text, shown in _CONFIG_BREAKERS.items() if text in path]
    if "\n" in path or "\r" in path:
        found.append("a line break")
    if not found:
        return None
    return f"the path holds {' and '.join(found)}, which supervisord's config cannot hold"


def sqlite_file(url: str, base: Path) -> Path | None:
    """The file of a ``sqlite:///`` URL (a relative one is relative to ``base``), else None."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    return base / url[len(SQLITE_PREFIX) :]


def file_directory(url: str, base: Path) -> Path | None:
    """The directory of a ``file:`` URL (a relative one is relative to ``base``), else None."""
    if not url.startswith(FILE_PREFIX):
        return None
    # "file:///${DIR}" with DIR=/srv/q reads "file:////srv/q": one directory, one spelling.
    return base / re.sub("^/+", "/", unquote(urlsplit(url).path))


def storage_directory(url: str, base: Path) -> Path | None:
    """The directory a SQLite or file storage writes in, which its consumer creates;
    None for a storage on a server."""
    file = sqlite_file(url, base)
    return file.parent if file is not None else file_directory(url, base)


def creatable_directory_problem(directory: Path) -> str | None:
    """Why this user can neither write in ``directory`` nor create it, else None."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create the directory {directory}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == directory:
            return f"cannot write in the directory {directory}: it is not writable"
        return f"cannot create the directory {directory}: {existing} is not writable"
    return None


def _simple(expected: str, ok: Callable[[Any], bool], extra: str = "") -> Kind:
    return Kind(expected, lambda v: None if ok(v) else f"must be {expected}{extra}, not {v!r}")


def _secret(expected: str, ok: Callable[[Any], bool], extra: str) -> Kind:
    """A kind whose wrong value is likely a clear-text secret: the message never repeats
    it, so it stays out of terminals, CI logs and the dashboard."""
    return Kind(expected, lambda v: None if ok(v) else f"must be {expected}{extra}")


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
    "module": _simple(
        "a module path like 'mysite.settings'",
        lambda v: isinstance(v, str) and bool(MODULE_PATH.match(v)),
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
    "quantity": _simple(
        'a quantity such as 0.5 or "250m" (CPUs) or "256Mi" (memory)',
        lambda v: (_is_int(v) or isinstance(v, (float, str))) and bool(QUANTITY.match(str(v))),
    ),
    "port": _simple("a TCP port (1-65535)", lambda v: _is_int(v) and 0 < v < 65536),
    "host": _simple("a host name or address", lambda v: isinstance(v, str) and v != ""),
    "username": _simple(
        "a user name without spaces",
        lambda v: isinstance(v, str) and bool(re.fullmatch(r"[^\s%]+", v)),
    ),
    "password": _secret(
        '"${VAR}" (supervisord reads it from its environment) or a "{SHA}" hex digest',
        lambda v: isinstance(v, str) and bool(_SHA_PASSWORD.match(v) or _only_variable(v)),
        "; a clear-text password would be written into supervisord.conf",
    ),
    "token": _secret(
        '"${VAR}" (read from the environment of `hueyctl dashboard`)',
        lambda v: isinstance(v, str) and _only_variable(v),
        "; a manifest is no place for a secret",
    ),
}


def _only_variable(text: str) -> bool:
    match = VARIABLE.fullmatch(text)
    return bool(match and match.group(1))
