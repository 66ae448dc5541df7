"""The dashboard's HTTP server: the page, its static files, the JSON API and actions.

Every request passes :class:`~hueyctl.dashboard.guard.Guard` first; actions are POSTs
that also carry the page's CSRF token. Nothing is fetched from elsewhere: the page,
its script and its styles are package data.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hueyctl import chores, fleet, metrics
from hueyctl.dashboard import data
from hueyctl.dashboard.guard import Guard
from hueyctl.dashboard.rates import Rates
from hueyctl.diagnose import FAILURES, explain
from hueyctl.errors import BadInput, HueyctlError
from hueyctl.model import Manifest

#: Seconds between the samples that feed the per-minute charts, page open or not.
SAMPLE_EVERY = 10.0
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_BODY = 65536
# The format prometheus_client's generate_latest writes (what `hueyctl metrics` prints).
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# A storage or supervisord that went away (or an app that cannot be bound).
UNAVAILABLE = (*FAILURES, http.client.HTTPException)


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


class Dashboard(ThreadingHTTPServer):
    """Serves the deployments ``load`` returns (read again on every request)."""

    daemon_threads = True

    def __init__(self, host: str, port: int, load: Callable[[], list[Manifest]], guard: Guard):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.load = load
        self.guard = guard
        self.rates = Rates()
        self.stopped = threading.Event()
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def sample(self) -> None:
        """Feed the charts every SAMPLE_EVERY seconds until :meth:`shutdown`."""
        while not self.stopped.wait(SAMPLE_EVERY):
            try:
                data.overview(self.load(), self.rates)
            except UNAVAILABLE:
                continue  # a deployment going down mid-sample; the next sample tries again

    def serve(self) -> None:
        """Serve until interrupted, sampling in the background."""
        threading.Thread(target=self.sample, daemon=True).start()
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a person stops it
        finally:
            self.stopped.set()
            self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: Dashboard
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page polling every few seconds would flood the terminal."""

    # -- dispatch ---------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self._admitted(query.get("token"), url.path):
            return
        parts = [p for p in url.path.split("/") if p]
        if not parts or parts[0] == "instances":
            return self._page()
        if parts[0] == "static" and len(parts) == 2 and parts[1] in STATIC:
            return self._send(200, _static(parts[1]), STATIC[parts[1]])
        if parts == ["metrics"]:
            return self._answer(self._metrics)
        if parts[0] == "api":
            return self._answer(lambda: self._read(parts[1:], query))
        self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        if not self._admitted(None, None):
            return
        if not self.server.guard.allows_action(self.headers):
            return self._json(403, {"error": "missing or wrong CSRF token; reload the page"})
        if len(parts) != 5 or parts[:2] != ["api", "instances"]:
            return self._json(404, {"error": "no such action"})
        _, _, project, name, action = parts
        self._answer(lambda: self._act(project, name, action))

    def _read(self, parts: list[str], query: dict[str, str]) -> Any:
        manifests = self.server.load()
        if parts == ["status"]:
            return fleet.status(manifests)  # exactly `hueyctl status --json`
        if parts == ["overview"]:
            return data.overview(manifests, self.server.rates)
        if len(parts) in (3, 4) and parts[0] == "instances":
            manifest = data.deployment_of(manifests, parts[1], parts[2])
            if len(parts) == 3:
                return data.instance(manifest, parts[2])
            if parts[3] == "errors":
                return chores.errors([manifest], parts[2], data.LISTED)
            return data.waiting(manifest, parts[2], parts[3], query.get("args") == "1")
        raise LookupError

    def _metrics(self) -> bytes:
        """What `hueyctl metrics` prints, for Prometheus to scrape."""
        return metrics.render(metrics.survey(self.server.load())).encode()

    def _act(self, project: str, name: str, action: str) -> list[dict]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadInput("request body too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise BadInput("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise BadInput("the body must be a JSON object")
        manifest = data.deployment_of(self.server.load(), project, name)
        return data.act(manifest, name, action, body)

    # -- answers ----------------------------------------------------------------------
    def _admitted(self, query_token: str | None, path: str | None) -> bool:
        """Whether to go on; answers 401, or admits a browser's ``?token=`` with a cookie."""
        guard = self.server.guard
        if not guard.admits(self.headers, query_token):
            reason = b"unauthorized: this dashboard needs its token (and a loopback Host without)\n"
            self._send(401, reason, "text/plain")
            return False
        if query_token is not None and path is not None and guard.token is not None:
            self._send(303, b"", "text/plain", {"Location": path, "Set-Cookie": guard.cookie()})
            return False
        return True

    def _answer(self, produce: Callable[[], Any]) -> None:
        """200 with what ``produce`` returns (bytes: Prometheus text; else JSON), or the
        error as JSON with its status."""
        try:
            value = produce()
            if isinstance(value, bytes):
                self._send(200, value, PROMETHEUS_TEXT)
            else:
                self._json(200, value)
        except LookupError:
            self._json(404, {"error": f"no such resource: {self.path}"})
        except BadInput as exc:
            self._json(400, {"error": str(exc)})
        except HueyctlError as exc:
            self._json(409, {"error": str(exc)})
        except http.client.HTTPException as exc:
            self._json(503, {"error": f"supervisord answered badly: {exc!r}"})
        except FAILURES as exc:
            self._json(503, {"error": explain(exc)})

    def _page(self) -> None:
        page = Template(_static("page.html").decode()).substitute(csrf=self.server.guard.csrf)
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, default=str).encode()
        self._send(status, body, "application/json")

    def _send(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
