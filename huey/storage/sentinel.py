"""Redis behind Sentinel: a ``redis+sentinel://`` URL becomes redis-py's sentinel-managed pool.

``redis+sentinel://[user:password@]s1:26379,s2:26379/mymaster/1`` names the Sentinels, the
master's service name and the database; ``rediss+sentinel://`` speaks TLS to the Sentinels
and the master. Every connection of the pool asks the Sentinels for the current master when
it connects, and one that finds its server demoted (READONLY) drops and reconnects, so a
consumer follows a failover without a restart. Query options: ``sentinel_username`` and
``sentinel_password`` (when the Sentinels need their own), ``socket_timeout``,
``socket_connect_timeout`` and the ``ssl_*`` options of redis-py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.sentinel import Sentinel, SentinelConnectionPool

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
    return SentinelConnectionPool(parsed.service, sentinel, **master)
