"""Storage backends, and the one place a storage URL becomes a backend."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from huey.exceptions import ConfigurationError
from huey.storage.base import BaseStorage
from huey.storage.blackhole import BlackHoleStorage
from huey.storage.file import FileStorage
from huey.storage.memory import MemoryStorage
from huey.storage.redis import RedisStorage
from huey.storage.redis_expire import (
    ExpiringRedisStorage,
    PriorityExpiringRedisStorage,
    PriorityRedisExpireStorage,
    RedisExpireStorage,
)
from huey.storage.redis_priority import PriorityRedisStorage
from huey.storage.sentinel import SCHEMES as SENTINEL_SCHEMES
from huey.storage.sqlite import SqliteStorage

__all__ = [
    "BaseStorage",
    "BlackHoleStorage",
    "ExpiringRedisStorage",
    "FileStorage",
    "MemoryStorage",
    "PriorityExpiringRedisStorage",
    "PriorityRedisExpireStorage",
    "PriorityRedisStorage",
    "RedisExpireStorage",
    "RedisStorage",
    "SqliteStorage",
    "storage_from_url",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix", *SENTINEL_SCHEMES)
_ACCEPTED = (
    "redis://, rediss://, unix://, redis+sentinel://, sqlite:///path, file:///dir, memory://"
)


def storage_from_url(url: str, name: str, priority: bool = False, **kwargs: object) -> BaseStorage:
    """Build the backend a URL names; ``kwargs`` go to the backend's constructor.

    ``priority`` (or ``?priority=true`` in a Redis URL) picks the Redis priority queue;
    memory, SQLite and file queues always leave in priority order. On Redis an ``expire_time``
    makes the stored values expire (:class:`ExpiringRedisStorage`)."""
    scheme = urlsplit(url).scheme
    if scheme in _REDIS_SCHEMES:
        url, asked = _take_priority_option(url)
        expiring = "expire_time" in kwargs
        storage_class = {
            (False, False): RedisStorage,
            (True, False): PriorityRedisStorage,
            (False, True): ExpiringRedisStorage,
            (True, True): PriorityExpiringRedisStorage,
        }[(priority or asked, expiring)]
        return storage_class(name, url=url, **kwargs)
    if scheme == "sqlite":
        return SqliteStorage(name, filename=_sqlite_filename(url), **kwargs)
    if scheme == "file":
        return FileStorage(name, path=_file_directory(url), **kwargs)
    if scheme == "memory":
        return MemoryStorage(name, **kwargs)
    raise ConfigurationError(f"unknown storage URL scheme {scheme!r}: use one of {_ACCEPTED}")


def _take_priority_option(url: str) -> tuple[str, bool]:
    """Split ``priority=true|1|yes`` (or false) out of a Redis URL's query."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    flags = [value.lower() in ("1", "true", "yes") for key, value in pairs if key == "priority"]
    if not flags:
        return url, False
    rest = urlencode([(key, value) for key, value in pairs if key != "priority"])
    return (f"{base}?{rest}" if rest else base), flags[-1]


def _sqlite_filename(url: str) -> str:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise ConfigurationError(
            f"bad SQLite URL {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"SQLite URL {url!r} has a query: pass SqliteStorage options as keyword arguments"
        )
    return parts.path[1:]


def _file_directory(url: str) -> str:
    """``file:///srv/huey`` -> ``/srv/huey`` (a file URL); ``file:data/huey`` -> ``data/huey``."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path or parts.query or parts.fragment:
        raise ConfigurationError(
            f"bad file storage URL {url!r}: write file:///absolute/dir or file:relative/dir,"
            " and pass FileStorage options as keyword arguments"
        )
    return unquote(parts.path)
