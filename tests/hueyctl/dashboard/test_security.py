"""Who may read and act: a token off loopback, a CSRF token for actions, text never HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hueyctl.bind import bind
from hueyctl.dashboard.guard import Guard, configured_token
from hueyctl.errors import BadInput
from hueyctl.manifest import load

from ..hueyctl_helpers import write_manifest
from .dashboard_helpers import SECRET, request

TOKEN = "s3cret-token-for-tests"


def test_a_bind_off_loopback_without_a_token_is_refused(hueyctl, project: Path) -> None:
    with pytest.raises(BadInput, match="needs a token"):
        Guard("0.0.0.0", None)
    result = hueyctl("dashboard", project, "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 2
    assert "HUEYCTL_DASHBOARD_TOKEN" in result.stderr


def test_requests_without_the_right_token_are_refused(serve) -> None:
    server = serve("0.0.0.0", TOKEN)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "hueyctl_dashboard=x"}):
        assert request(f"{url}/api/status", headers=headers)[0] == 401
    assert request(f"{url}/?token=wrong")[0] == 401
    assert request(f"{url}/metrics")[0] == 401

    status, _, body = request(f"{url}/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert [row["instance"] for row in json.loads(body)] == ["a"]


def test_a_browser_presents_the_token_once_and_keeps_it_in_a_cookie(serve) -> None:
    server = serve("0.0.0.0", TOKEN)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    status, headers, _ = request(f"{url}/instances/dash/a?token={TOKEN}")
    assert status == 303
    assert headers["Location"] == "/instances/dash/a"  # the token leaves the address bar
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, page = request(url + "/", headers={"Cookie": cookie.split(";")[0]})
    assert status == 200 and b"<title>hueyctl dashboard</title>" in page


def test_without_a_token_only_a_loopback_host_name_is_answered(serve) -> None:
    port = serve().server_address[1]
    url = f"http://127.0.0.1:{port}/api/status"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert request(url, headers={"Host": host})[0] == 200
    assert request(url + "?token=anything")[0] == 200  # no token set: nothing to keep
    # A page of evil.example whose name resolves to 127.0.0.1 (DNS rebinding):
    assert request(url, headers={"Host": f"evil.example:{port}"})[0] == 401


def test_the_token_comes_from_the_environment_or_the_manifest(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path / "t.yaml",
        """
        version: 1
        project: tok
        dashboard: {token: "${DASH_TOKEN}"}
        instances:
          a: {app: "x:huey"}
        """,
    )
    model = load(manifest, environ={"DASH_TOKEN": "from-manifest"})
    assert configured_token([model], {"DASH_TOKEN": "from-manifest"}) == "from-manifest"
    both = {"DASH_TOKEN": "from-manifest", "HUEYCTL_DASHBOARD_TOKEN": "from-env"}
    assert configured_token([model], both) == "from-env"
    assert "from-manifest" not in repr(model)  # the manifest holds the reference only

    with pytest.raises(BadInput, match="DASH_TOKEN"):  # meant to be guarded: never open
        configured_token([load(manifest, environ={}, resolve=False)], {})

    plain = write_manifest(
        tmp_path / "p.yaml",
        'version: 1\nproject: tok\ndashboard: {token: "plain"}\ninstances: {a: {app: "x:huey"}}\n',
    )
    with pytest.raises(BadInput, match="dashboard.token"):
        load(plain)


def test_an_action_needs_the_pages_csrf_token(serve, project: Path) -> None:
    server = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/instances/dash/a/revoke"
    huey = bind(project)["a"]
    from dash_app import record

    waiting = record.schedule(args=("x",), delay=3600).task.task_id
    for headers in ({}, {"X-CSRF-Token": "guess"}):
        status, _, body = request(url, {"task_id": waiting}, headers)
        assert status == 403, body
    assert not huey.is_revoked(waiting)

    status, _, body = request(url, {"task_id": waiting}, {"X-CSRF-Token": server.guard.csrf})
    assert status == 200, body
    assert json.loads(body)[0]["revoked"] is True
    assert huey.is_revoked(waiting)
    # The token is in the page, where only a page of this origin can read it.
    page = request(f"http://127.0.0.1:{server.server_address[1]}/")[2].decode()
    assert f'content="{server.guard.csrf}"' in page


def test_no_manifest_secret_is_ever_served(serve) -> None:
    server = serve()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    paths = ["/", "/api/status", "/api/overview", "/api/instances/dash/a", "/metrics"]
    for path in paths:
        status, _, body = request(base + path)
        assert status == 200 and SECRET.encode() not in body, path


def test_task_arguments_reach_the_page_only_as_json_text(serve, project: Path) -> None:
    server = serve()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    bind(project)
    from dash_app import record

    record.schedule(args=("<script>alert(1)</script>",), delay=3600)
    status, headers, body = request(f"{base}/api/instances/dash/a/scheduled?args=1")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self' covers it
    assert "<script>alert(1)</script>" in json.loads(body)[0]["args"]
    # Without ?args=1 nothing is unpickled and no argument is shown.
    listed = json.loads(request(f"{base}/api/instances/dash/a/scheduled")[2])
    assert "args" not in listed[0]
