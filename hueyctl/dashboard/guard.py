"""Who may use the dashboard: a bearer token off loopback, and a CSRF token for actions.

Tokens are compared in constant time. A browser presents the access token once as
``?token=`` and then carries it in an HttpOnly, SameSite=Strict cookie; scripts send
``Authorization: Bearer <token>``. Actions also need the page's CSRF token in a header,
which another site's page cannot read.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Iterable, Mapping
from http.cookies import SimpleCookie

from hueyctl.errors import BadInput
from hueyctl.model import Manifest
from hueyctl.values import expand, missing_variables

TOKEN_ENV = "HUEYCTL_DASHBOARD_TOKEN"
COOKIE = "hueyctl_dashboard"
CSRF_HEADER = "X-CSRF-Token"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configured_token(
    manifests: Iterable[Manifest], environ: Mapping[str, str] | None = None
) -> str | None:
    """HUEYCTL_DASHBOARD_TOKEN, else the first manifest's ``dashboard: {token: ${VAR}}``."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    for manifest in manifests:
        if manifest.dashboard is None:
            continue
        unset = missing_variables(manifest.dashboard.token, environ)
        if unset:
            variable = unset[0]
            raise BadInput(f"{manifest.path}: dashboard.token reads ${{{variable}}}: set it")
        return expand(manifest.dashboard.token, environ) or None
    return None


class Guard:
    """Checks one request's access token and one action's CSRF token."""

    def __init__(self, host: str, token: str | None) -> None:
        if token is None and not is_loopback(host):
            raise BadInput(
                f"listening on {host} needs a token: set {TOKEN_ENV}, or a manifest "
                "`dashboard: {token: ${VAR}}`; without one, keep the default 127.0.0.1"
            )
        self.token = token
        self.csrf = secrets.token_urlsafe(32)

    def admits(self, headers: Mapping[str, str], query_token: str | None = None) -> bool:
        """Whether the request carries the access token. Without one (on loopback) the
        request must name a loopback host: a page of another site whose name resolves to
        127.0.0.1 (DNS rebinding) sends its own name, and is refused."""
        if self.token is None:
            return is_loopback(_host_name(headers.get("Host", "")))
        offered = [query_token, _bearer(headers.get("Authorization", ""))]
        cookie = SimpleCookie(headers.get("Cookie", ""))
        if COOKIE in cookie:
            offered.append(cookie[COOKIE].value)
        return any(same(self.token, candidate) for candidate in offered)

    def allows_action(self, headers: Mapping[str, str]) -> bool:
        return same(self.csrf, headers.get(CSRF_HEADER))

    def cookie(self) -> str:
        """The Set-Cookie value that keeps a browser admitted."""
        return f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"


def same(expected: str, offered: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not offered:
        return False
    return hmac.compare_digest(expected.encode(), offered.encode())


def _host_name(host: str) -> str:
    """``localhost`` of ``localhost:8642``, ``::1`` of ``[::1]:8642``."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def _bearer(value: str) -> str | None:
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None
