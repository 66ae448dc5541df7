"""Rendering: supervisord.conf that supervisor's own parser accepts, with huey's needs met."""

from __future__ import annotations

import configparser
import dataclasses
import json
import stat
import sys
from pathlib import Path

import pytest

from hueyctl import render, state
from hueyctl.errors import BadInput
from hueyctl.manifest import load

from .hueyctl_helpers import write_manifest


@pytest.fixture
def manifest(tmp_path: Path):
    directory = tmp_path / "100% app"
    directory.mkdir()
    return load(
        write_manifest(
            directory / "m.yaml",
            """
            version: 1
            project: shop
            instances:
              emails:
                app: shop.emails:huey
                storage: sqlite:///emails.db
                shutdown_timeout: 42.5
              reports:
                app: shop.reports:huey
                storage: redis://127.0.0.1:6379/0
            """,
        )
    )


def parsed(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    parser.read_string(text)
    return parser


def test_each_instance_is_its_own_program_stopped_with_sigint(manifest) -> None:
    conf = parsed(render.render(manifest))
    assert [s for s in conf.sections() if s.startswith("program:")] == [
        "program:emails",
        "program:reports",
    ]
    assert not [s for s in conf.sections() if s.startswith("group:")]
    emails = conf["program:emails"]
    assert emails["stopsignal"] == "INT"
    assert int(emails["stopwaitsecs"]) == 43 + render.STOP_MARGIN
    assert int(conf["program:reports"]["stopwaitsecs"]) == 30 + render.STOP_MARGIN
    assert (emails["killasgroup"], emails["stopasgroup"], emails["autorestart"]) == (
        "true",
        "false",
        "true",
    )
    assert emails["stdout_logfile_maxbytes"] and emails["stderr_logfile_backups"]


def test_each_replica_is_its_own_program_with_its_own_log(manifest) -> None:
    emails = dataclasses.replace(manifest.instances["emails"], replicas=3)
    three = dataclasses.replace(manifest, instances={**manifest.instances, "emails": emails})
    conf = parsed(render.render(three, held={"reports"}))
    programs = [s for s in conf.sections() if s.startswith("program:")]
    assert programs == ["program:emails", "program:emails.2", "program:emails.3", "program:reports"]
    assert conf["program:emails.3"]["command"] == conf["program:emails"]["command"]
    assert conf["program:emails.3"]["stderr_logfile"].endswith("/emails.3.err.log")
    # Replicas share their instance's settings: a change of replicas changes no program.
    digests = [conf[f"program:{n}"]["environment"].split(",")[0] for n in ("emails", "emails.2")]
    assert digests[0] == digests[1]
    assert conf["program:emails"]["autostart"] == "true"
    assert conf["program:reports"]["autostart"] == "false"  # stopped by hand


def test_percent_signs_are_escaped_and_the_command_runs_the_launcher(manifest) -> None:
    text = render.render(manifest)
    assert "100%% app" in text and "100% app" not in text.replace("100%% app", "")
    emails = parsed(text)["program:emails"]
    # Interpolation turns %% back into the real path, as supervisord reads it.
    assert emails["directory"] == str(manifest.directory)
    assert emails["command"] == (f"{sys.executable} -m hueyctl.launch '{manifest.path}' emails")
    render.check(text, state.paths(manifest))


def test_control_socket_is_owner_only_and_there_is_no_tcp_listener(manifest) -> None:
    conf = parsed(render.render(manifest))
    assert conf["unix_http_server"]["file"] == str(manifest.state_dir / "supervisor.sock")
    assert int(conf["unix_http_server"]["chmod"], 8) & (stat.S_IRWXG | stat.S_IRWXO) == 0
    assert "inet_http_server" not in conf
    assert conf["supervisorctl"]["serverurl"].startswith("unix://")


def test_http_password_is_a_reference_never_the_value(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HUEYCTL_TEST_PW", "hunter2")
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        http: {port: 9001, username: ops, password: "${HUEYCTL_TEST_PW}"}
        instances:
          emails: {app: "shop.emails:huey", storage: "sqlite:///e.db"}
        """,
    )
    text = render.render(load(path))
    assert "hunter2" not in text
    assert "password=%(ENV_HUEYCTL_TEST_PW)s" in text
    assert "port=127.0.0.1:9001" in text
    render.check(text, state.paths(load(path)))


def test_secrets_from_env_never_reach_the_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HUEYCTL_TEST_TOKEN", "s3cret, with \"quotes\" and 'more'")
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        env: {TOKEN: "${HUEYCTL_TEST_TOKEN}", PLAIN: "a,b c@d"}
        instances:
          emails: {app: "shop.emails:huey", storage: "sqlite:///e.db"}
        """,
    )
    text = render.render(load(path))
    assert "s3cret" not in text and "a,b c@d" not in text and "TOKEN" not in text


def test_a_storage_path_never_reaches_the_config(tmp_path: Path) -> None:
    # What supervisord's config could not hold is fine in a storage path: the launcher
    # reads the storage from the manifest, so the path is never written there.
    odd = "q ;x\tnot\\a comment"
    on_files, on_sqlite = json.dumps(f"file:{odd}"), json.dumps(f"sqlite:///{odd}.db")
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: shop
        instances:
          emails: {{app: "shop.emails:huey", storage: {on_files}}}
          reports: {{app: "shop.reports:huey", storage: {on_sqlite}}}
        """,
    )
    manifest = load(path)
    assert manifest.instances["emails"].storage == f"file:{odd}"
    text = render.render(manifest)
    assert " ;x" not in text
    render.check(text, state.paths(manifest))


def test_a_settings_change_changes_only_that_program(manifest, tmp_path: Path) -> None:
    before = parsed(render.render(manifest))
    text = manifest.path.read_text().replace("shutdown_timeout: 42.5", "workers: 3")
    after = parsed(render.render(load(write_manifest(manifest.path, text))))
    assert before["program:reports"] == after["program:reports"]
    assert before["program:emails"]["environment"] != after["program:emails"]["environment"]


def test_supervisor_parser_rejections_are_bad_input(manifest) -> None:
    text = render.render(manifest).replace("stopsignal=INT", "stopsignal=NOPE", 1)
    with pytest.raises(BadInput, match="not a valid signal name"):
        render.check(text, state.paths(manifest))


def test_paths_that_supervisord_would_cut_at_a_comment_are_refused(manifest) -> None:
    # The loader refuses such a manifest path already (test_manifest); render checks
    # every word of the command again, the Python interpreter's path included.
    moved = dataclasses.replace(manifest, path=Path("/srv/a ;b/m.yaml"))
    with pytest.raises(BadInput, match="' ;'"):
        render.render(moved)


def test_render_and_plan_commands_change_nothing(hueyctl, manifest) -> None:
    rendered = hueyctl("render", manifest.path)
    assert rendered.exit_code == 0
    assert rendered.stdout == render.render(manifest)
    planned = hueyctl("plan", manifest.path)
    assert planned.stdout.splitlines() == ["emails: add", "reports: add"]
    assert not manifest.state_dir.exists()


def test_state_dir_option_beats_the_variable_which_beats_the_manifest(
    hueyctl, manifest, tmp_path: Path, monkeypatch
) -> None:
    def socket(*options: object) -> str:
        result = hueyctl("render", *options, manifest.path)
        assert result.exit_code == 0, result.output
        return parsed(result.stdout)["unix_http_server"]["file"]

    assert socket() == str(manifest.state_dir / "supervisor.sock")
    monkeypatch.setenv("HUEYCTL_STATE_DIR", str(tmp_path / "from-env"))
    assert socket() == str(tmp_path / "from-env" / "supervisor.sock")
    assert socket("--state-dir", tmp_path / "flag") == str(tmp_path / "flag" / "supervisor.sock")
