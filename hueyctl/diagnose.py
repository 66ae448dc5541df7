"""One line that says why an instance's app or storage could not be used.

The line never holds a traceback, and never the text of an unparsable storage URL
(redis-py quotes the URL's pieces, which may be the start of a password).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import redis

from huey.exceptions import ConfigurationError, HueyException
from hueyctl.errors import HueyctlError

# What binding an instance and asking its storage can raise; anything else is a bug.
FAILURES = (HueyctlError, HueyException, redis.RedisError, sqlite3.Error, OSError, ValueError)


def explain(exc: BaseException) -> str:
    """Why ``exc`` (one of FAILURES) happened, in one line an operator can act on."""
    for cause in _chain(exc):
        if isinstance(cause, redis.AuthenticationError) or (
            isinstance(cause, redis.ResponseError)
            and str(cause).startswith(("NOAUTH", "WRONGPASS"))
        ):
            return "storage authentication failed: check the password in the storage URL"
        if isinstance(cause, redis.InvalidResponse):
            return "the service on the storage port is not Redis (it answered something else)"
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause):
            return "cannot open the SQLite database: its directory is missing or not writable"
    if isinstance(exc, (HueyctlError, ConfigurationError)):
        return _first_line(exc)
    if isinstance(exc, ValueError):
        return (
            "the storage URL cannot be parsed; a password holding / # ? @ must be "
            "percent-encoded (a ${VAR} in the password is encoded for you)"
        )
    return f"storage unavailable: {_first_line(exc)}"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
