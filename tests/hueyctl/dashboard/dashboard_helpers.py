"""HTTP requests for the dashboard's tests: status, headers and body, redirects not followed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

#: A value the test manifest's environment holds, which no answer may contain.
SECRET = "topsecret-value-never-shown"


def request(
    url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, or of a POST of ``body`` as JSON; no redirects."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None
