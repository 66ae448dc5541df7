"""Redis behind Sentinel: a ``redis+sentinel://`` URL becomes redis-py's sentinel-managed pool.

``redis+sentinel://[user:password@]s1:26379,s2:26379/mymaster/1`` names the Sentinels, the
master's service name and the database; ``rediss+sentinel://`` speaks TLS to the Sentinels
and the master. Every connection of the pool asks the Sentinels for the current master when
it connects, one that finds its server demoted (READONLY) drops and reconnects, and an open
one leaves a server the Sentinels no longer name as master before it writes (they are asked
every quarter of a second): a Sentinel demotes the old master only when it next polls it, up to
10 seconds after the promotion, and writes it takes until then are lost. So a consumer
follows a failover without a restart. Query options: ``sentinel_username`` and
``sentinel_password`` (when the Sentinels need their own), ``socket_timeout``,
``socket_connect_timeout`` and the ``ssl_*`` options of redis-py.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.exceptions import RedisError
from redis.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelConnectionPoolProxy,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)

from huey.exceptions import ConfigurationError

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379
_FORM = "redis+sentinel://[user:password@]host:26379[,host:26379...]/service[/db]"
# Query options, and what they turn into; they apply to the Sentinels and to the master.
_OPTIONS = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_cert_reqs": str,
    "ssl_check_hostname": lambda text: text.lower() in ("1", "true", "yes"),
}
_SENTINEL_AUTH = ("sentinel_username", "sentinel_password")


@dataclass(frozen=True)
class SentinelURL:
    """What a ``redis+sentinel://`` URL says."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    sentinel_auth: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """How errors name it: the service and the Sentinels asked for its master."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"Sentinel service {self.service!r} via {hosts}"


def is_sentinel_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in SCHEMES


def parse(url: str) -> SentinelURL:
    """Read a sentinel URL, or raise ConfigurationError saying how to write one."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    names = [name for name in parts.path.split("/") if name]
    if not hosts or not names or len(names) > 2:
        raise ConfigurationError(f"bad Sentinel URL {url!r}: write {_FORM}")
    try:
        db = int(names[1]) if len(names) == 2 else 0
    except ValueError:
        raise ConfigurationError(
            f"bad Sentinel URL {url!r}: the db {names[1]!r} is not a number"
        ) from None
    options: dict[str, Any] = {}
    auth: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _SENTINEL_AUTH:
            auth[key.removeprefix("sentinel_")] = value
        elif key in _OPTIONS:
            try:
                options[key] = _OPTIONS[key](value)
            except ValueError:
                raise ConfigurationError(
                    f"Sentinel URL option {key}={value!r} is not a number"
                ) from None
        else:
            known = ", ".join([*_OPTIONS, *_SENTINEL_AUTH])
            raise ConfigurationError(f"unknown Sentinel URL option {key!r}: use one of {known}")
    return SentinelURL(
        sentinels=tuple(_host_port(url, host) for host in hosts.split(",")),
        service=unquote(names[0]),
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=parts.scheme == "rediss+sentinel",
        options=options,
        sentinel_auth=auth,
    )


def _host_port(url: str, text: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    port = port or str(DEFAULT_PORT)
    if not host or not port.isdigit():
        raise ConfigurationError(f"bad Sentinel address {text!r} in {url!r}: write host:port")
    return host, int(port)


# How often an open connection asks the Sentinels whether its server is still the master:
# what a producer enqueues in that long after a promotion reaches the old master and is lost.
RECHECK_SECONDS = 0.25


class MasterWatch:
    """Tells a connection whether the Sentinels moved the master away from its server."""

    def __init__(self, proxy: SentinelConnectionPoolProxy, interval: float) -> None:
        self._proxy = proxy
        self._interval = interval
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._checked = float("-inf")

    def moved_from(self, address: tuple[str, int]) -> bool:
        """Whether the master is known to be elsewhere; asks the Sentinels when due."""
        if self._pid != os.getpid():  # a forked child: the parent may have held the lock
            self._lock, self._pid = threading.Lock(), os.getpid()
        if time.monotonic() - self._checked >= self._interval and self._lock.acquire(False):
            try:
                self._checked = time.monotonic()
                self._proxy.get_master_address()
            except RedisError:  # no Sentinel answers: keep the server this connection has
                pass
            finally:
                self._lock.release()
        master = self._proxy.master_address
        return master is not None and tuple(master) != tuple(address)


class _FollowingConnection(SentinelManagedConnection):
    """A master connection that reconnects, before it writes, once the master has moved."""

    def __init__(self, **kwargs: Any) -> None:
        self._watch: MasterWatch = kwargs.pop("master_watch")
        super().__init__(**kwargs)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._sock and self._watch.moved_from((self.host, self.port)):
            self.disconnect()  # nothing of this command was written: reconnecting is safe
            self.connect()
        super().send_packed_command(command, check_health)


class _FollowingSSLConnection(_FollowingConnection, SentinelManagedSSLConnection):
    """The same over TLS."""


def connection_pool(parsed: SentinelURL, **redis_kwargs: Any) -> SentinelConnectionPool:
    """The pool whose connections always reach the service's current master."""
    common = {**parsed.options, "ssl": parsed.tls} if parsed.tls else dict(parsed.options)
    sentinel = Sentinel(list(parsed.sentinels), sentinel_kwargs={**common, **parsed.sentinel_auth})
    master = {
        **common,
        "db": parsed.db,
        "username": parsed.username,
        "password": parsed.password,
        **redis_kwargs,
    }
    connection_class = _FollowingSSLConnection if master.pop("ssl", False) else _FollowingConnection
    pool = SentinelConnectionPool(
        parsed.service, sentinel, connection_class=connection_class, **master
    )
    pool.connection_kwargs["master_watch"] = MasterWatch(pool.proxy, RECHECK_SECONDS)
    return pool
