"""Manifest validation: every broken manifest in manifests/ gets its exact errors, exit 2."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from huey.consumer.options import ConsumerOptions
from hueyctl.bind import bind
from hueyctl.errors import ManifestError
from hueyctl.manifest import load
from hueyctl.starter import STARTER
from hueyctl.statedir import STATE_DIR_ENV
from hueyctl.values import expand

from .hueyctl_helpers import write_app, write_manifest

CORPUS = sorted((Path(__file__).parent / "manifests").glob("*.yaml"))


def expected(path: Path) -> set[str]:
    """The ``# expect: LINE: FIELD: MESSAGE`` header lines, as the CLI prints them
    (``{dir}`` stands for the corpus directory)."""
    lines = re.findall(r"^# expect: (.*)$", path.read_text(), re.MULTILINE)
    return {f"{path}:{line}".replace("{dir}", str(path.parent)) for line in lines}


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_manifest_reports_every_error_and_exits_2(hueyctl, path: Path) -> None:
    result = hueyctl("validate", path)
    assert result.exit_code == 2
    assert set(result.stderr.splitlines()) == expected(path)
    assert "Traceback" not in result.output


def test_errors_come_all_at_once_in_file_order(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          a: {app: "a:huey", storage: "sqlite:///a.db", workers: 0}
          b: {app: "b:huey", storage: "sqlite:///b.db", utc: maybe}
        """,
    )
    with pytest.raises(ManifestError) as info:
        load(path)
    assert [(p.line, p.field) for p in info.value.problems] == [
        (4, "instances.a.workers"),
        (5, "instances.b.utc"),
    ]


def test_two_line_instance_gets_the_defaults(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          emails:
            app: shop.emails:huey
        """,
    )
    manifest = load(path)
    emails = manifest.instances["emails"]
    assert emails.options == ConsumerOptions()
    assert (emails.startsecs, emails.schedules, emails.env) == (2, (), {})
    assert manifest.state_dir == tmp_path / ".hueyctl"
    # No storage: an embedded SQLite database in the state directory, wherever that is.
    assert emails.storage == f"sqlite:///{tmp_path}/.hueyctl/emails.db"
    moved = load(path, state_dir=tmp_path / "elsewhere").instances["emails"]
    assert moved.storage == f"sqlite:///{tmp_path}/elsewhere/emails.db"


def test_bind_finds_the_default_storage_in_the_consumers_state_dir(
    tmp_path: Path, fresh_imports: None
) -> None:
    write_app(tmp_path, "plain_app", "plain")
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          plain:
            app: plain_app:huey
        """,
    )
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    huey = bind(path, environ={STATE_DIR_ENV: str(state_dir)})["plain"]
    import plain_app

    plain_app.record("hello")
    assert len(huey.pending()) == 1
    assert (state_dir / "plain.db").is_file()


def test_a_schedule_calls_its_task_with_its_args_and_kwargs(
    tmp_path: Path, fresh_imports: None
) -> None:
    write_app(tmp_path, "sched_app", "sched")
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          sched:
            app: sched_app:huey
            schedules:
              greet: {task: "sched_app:record", cron: "0 3 * * *", args: [hello]}
              named: {task: "sched_app:record", cron: "0 4 * * *", kwargs: {word: bye}}
        """,
    )
    huey = bind(path)["sched"]
    for periodic in sorted(huey.periodic_tasks(), key=lambda task: task.name):
        periodic().execute()
    assert [line.split()[0] for line in (tmp_path / "done-sched.txt").read_text().splitlines()] == [
        "hello",
        "bye",
    ]
    # Changed arguments are a change `plan` shows and `up` restarts the consumer for.
    changed = write_manifest(tmp_path / "n.yaml", path.read_text().replace("[hello]", "[hi]"))
    before, after = (load(p) for p in (path, changed))
    settings = [m.settings(m.instances["sched"])["schedules.greet"] for m in (before, after)]
    assert settings == [
        "sched_app:record 0 3 * * * args=['hello']",
        "sched_app:record 0 3 * * * args=['hi']",
    ]


HUEY3_APPS = {
    "redis_url": 'RedisHuey("shop", url="redis://:hunter2@127.0.0.1:1/0")',
    "redis_class": 'PriorityRedisHuey("shop")',
    "sqlite_file": 'SqliteHuey("shop", filename="/srv/shop.db")',
    "file_directory": 'FileHuey("shop", path="/srv/queues")',
}


@pytest.mark.parametrize("construction", HUEY3_APPS.values(), ids=HUEY3_APPS)
def test_an_app_naming_its_own_storage_needs_storage_in_the_manifest(
    hueyctl, tmp_path: Path, fresh_imports: None, construction: str
) -> None:
    # A huey 3 app under a manifest without storage: consumers on the default SQLite
    # file would never see the tasks the app enqueues to its own storage.
    (tmp_path / "own_app.py").write_text(
        "from huey import FileHuey, PriorityRedisHuey, RedisHuey, SqliteHuey\n"
        f"huey = {construction}\n"
    )
    manifest = """
        version: 1
        project: shop
        instances:
          shop:
            app: own_app:huey
        """
    path = write_manifest(tmp_path / "m.yaml", manifest)
    with pytest.raises(ManifestError, match=r"instances\.shop\.storage: not set, but own_app"):
        bind(path)
    result = hueyctl("validate", "--check-imports", path)
    assert result.exit_code == 2
    assert "instances.shop.storage: not set" in result.stderr
    assert "hunter2" not in result.output
    given = write_manifest(tmp_path / "given.yaml", manifest + "    storage: sqlite:///given.db\n")
    assert bind(given)["shop"].storage.queue_size() == 0


def test_anchors_aliases_and_merge_keys_work(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        x-base: &base {storage: "sqlite:///base.db", workers: 2, worker_type: process}
        x-quiet: &quiet {periodic: false, workers: 9}
        instances:
          emails:
            <<: *base
            app: shop.emails:huey
          reports:
            <<: [*quiet, *base]
            app: shop.reports:huey
            storage: sqlite:///reports.db
            env: &env {REGION: eu}
          audit: {app: "shop.audit:huey", <<: *base, env: *env, utc: false}
        """,
    )
    manifest = load(path)
    emails, reports, audit = (manifest.instances[n] for n in ("emails", "reports", "audit"))
    assert (emails.storage, emails.options.workers) == ("sqlite:///base.db", 2)
    # A key written in the mapping beats a merged one; the first merged mapping beats the next.
    assert reports.storage == "sqlite:///reports.db"
    assert (reports.options.workers, reports.options.periodic) == (9, False)
    assert reports.options.worker_type == audit.options.worker_type == "process"
    assert audit.env == reports.env == {"REGION": "eu"}
    # A merged key is located where it is written: in the anchored mapping.
    assert manifest.line("instances.emails.workers") == 3
    assert manifest.line("instances.emails.app") == 8


def test_paths_supervisord_cannot_hold_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "a ;b"
    directory.mkdir()
    path = write_manifest(
        directory / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          emails: {app: "shop.emails:huey"}
        """,
    )
    with pytest.raises(ManifestError) as info:
        load(path, state_dir=tmp_path / "state #1")
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1: (file): the path holds ' ;', which supervisord's config cannot hold",
        f"{path}:1: state_dir: the path holds ' #', which supervisord's config cannot hold",
    ]


def test_instance_env_overrides_manifest_env_and_variables_resolve(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        env: {REGION: eu, TOKEN: "${SECRET}", PRICE: "$$5"}
        instances:
          emails:
            app: shop.emails:huey
            storage: sqlite:///emails.db
            env: {REGION: us, RETRIES: 3, DEBUG: false}
        """,
    )
    manifest = load(path, environ={"SECRET": "s3"})
    env = manifest.environment(manifest.instances["emails"])
    assert env == {
        "REGION": "us",
        "TOKEN": "${SECRET}",
        "PRICE": "$$5",
        "RETRIES": "3",
        "DEBUG": "false",
    }
    assert {k: expand(v, {"SECRET": "s3"}) for k, v in env.items()}["TOKEN"] == "s3"
    assert expand("$$5", {}) == "$5"


def test_starter_manifest_from_init_is_valid(hueyctl, tmp_path: Path) -> None:
    target = tmp_path / "hueyctl.yaml"
    assert hueyctl("init", target).exit_code == 0
    assert target.read_text() == STARTER
    assert hueyctl("validate", target).exit_code == 0
    again = hueyctl("init", target)
    assert again.exit_code == 2 and "--force" in again.stderr


def test_check_imports_names_the_line_of_a_missing_app(hueyctl, tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          emails:
            storage: sqlite:///emails.db
            app: no_such_module_here:huey
        """,
    )
    assert hueyctl("validate", path).exit_code == 0
    result = hueyctl("validate", "--check-imports", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"{path}:6: instances.emails.app: cannot import 'no_such_module_here:huey': "
        "ModuleNotFoundError"
    )


def test_missing_file_is_bad_input(hueyctl, tmp_path: Path) -> None:
    result = hueyctl("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope.yaml'}:1: (file): No such file")


def test_manifest_keys_map_onto_consumer_options(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          reports:
            app: shop.reports:huey
            storage: sqlite:///reports.db
            workers: 4
            worker_type: process
            periodic: false
            global_scheduler: false
            utc: false
            shutdown_timeout: 5
            flush_locks: true
        """,
    )
    options = load(path).instances["reports"].options
    assert options == ConsumerOptions(
        workers=4,
        worker_type="process",
        periodic=False,
        global_scheduler=False,
        utc=False,
        shutdown_timeout=5,
        flush_locks=True,
    )


def test_check_imports_finds_two_huey_objects_sharing_a_queue(
    hueyctl, tmp_path: Path, fresh_imports: None
) -> None:
    write_app(tmp_path, "twin_one", "same-name")
    write_app(tmp_path, "twin_two", "same-name")
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          one: {app: "twin_one:huey", storage: "sqlite:///q.db"}
          two: {app: "twin_two:huey", storage: "sqlite:///q.db"}
        """,
    )
    result = hueyctl("validate", "--check-imports", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}:5: instances.two.app: same storage and Huey name 'same-name' as instance "
        "'one': the two would share one queue"
    )


def test_check_imports_finds_two_instances_on_one_storage_directory_and_name(
    hueyctl, tmp_path: Path, fresh_imports: None
) -> None:
    for module, name in [("twin_one", "same"), ("twin_two", "same"), ("own", "own")]:
        write_app(tmp_path, module, name)
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: shop
        instances:
          one: {{app: "twin_one:huey", storage: "file:queues"}}
          two: {{app: "twin_two:huey", storage: "file://{tmp_path}/queues"}}
          own: {{app: "own:huey", storage: "file:queues"}}
        """,
    )
    # The same directory, written two ways; another Huey name there is its own queue.
    result = hueyctl("validate", "--check-imports", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}:5: instances.two.app: same storage and Huey name 'same' as instance "
        "'one': the two would share one queue"
    )


def test_a_file_storage_directory_is_relative_to_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_imports: None
) -> None:
    for name in ("near", "far", "named"):
        write_app(tmp_path, f"{name}_app", name)
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: shop
        instances:
          near: {{app: "near_app:huey", storage: "file:queues"}}
          far: {{app: "far_app:huey", storage: "file://{tmp_path}/my%20queues"}}
          named: {{app: "named_app:huey", storage: "file:///${{QUEUES}}/named"}}
        """,
    )
    monkeypatch.setenv("QUEUES", str(tmp_path / "from-env"))
    monkeypatch.chdir(tmp_path.parent)  # wherever the application runs
    hueys = bind(path)
    from near_app import record

    record("hello")
    assert hueys["near"].storage.path == str(tmp_path / "queues")
    assert len(list((tmp_path / "queues" / "near" / "queue").iterdir())) == 1
    assert hueys["far"].storage.path == str(tmp_path / "my queues")
    assert hueys["named"].storage.path == str(tmp_path / "from-env" / "named")


def test_a_storage_directory_this_user_cannot_write_in_is_refused(
    hueyctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queues").mkdir()
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        instances:
          emails: {app: "shop.emails:huey", storage: "file:queues"}
        """,
    )
    # Root writes anywhere, so the test takes the permission away where hueyctl asks.
    allowed = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: Path(p) != tmp_path / "queues" and allowed(p, mode)
    )
    result = hueyctl("validate", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}:4: instances.emails.storage: cannot write in the directory "
        f"{tmp_path}/queues: it is not writable"
    )


def test_a_state_dir_override_replaces_the_manifests(tmp_path: Path, monkeypatch) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        """
        version: 1
        project: shop
        state_dir: from-manifest
        instances:
          emails: {app: "shop.emails:huey", storage: "sqlite:///e.db"}
        """,
    )
    assert load(path).state_dir == tmp_path / "from-manifest"
    # Relative to where the command runs, like any path given on a command line.
    monkeypatch.chdir(tmp_path.parent)
    assert load(path, state_dir="shop-state").state_dir == tmp_path.parent / "shop-state"
    with pytest.raises(ManifestError) as info:
        load(path, state_dir=tmp_path / ("x" * 100))
    assert [(p.line, p.field) for p in info.value.problems] == [(3, "state_dir")]
    assert "too long for a unix socket" in str(info.value)


def test_a_manifest_that_is_not_text_is_bad_input(hueyctl, tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"version: 1\n\xff\xfe\n")
    result = hueyctl("validate", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:1: (file): not UTF-8 text: ")


def test_a_sentinel_storage_url_is_accepted(tmp_path: Path) -> None:
    url = "rediss+sentinel://:pw@s1:26379,s2:26379/mymaster/1"
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: shop
        instances:
          emails: {{app: "shop.emails:huey", storage: "{url}"}}
        """,
    )
    assert load(path).instance("emails").storage == url
