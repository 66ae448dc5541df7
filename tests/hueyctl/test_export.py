"""`hueyctl export`: the same manifest as Kubernetes objects, systemd units and a Compose
project; deterministic, secret-free, and accepted by each engine's own checker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from hueyctl.export import systemd
from hueyctl.liveness import last_heartbeat
from hueyctl.manifest import load

from ..waiting import wait_until
from .hueyctl_helpers import write_app, write_manifest

SECRETS = {"REDIS_PASSWORD": "redis-pw-Xq81", "SMTP_PASSWORD": "smtp-pw-Zz42"}
MANIFEST = """
    version: 1
    project: shop
    env: {APP_ENV: production, PRICE: "5$$"}
    instances:
      emails:
        app: tasks:huey
        storage: "redis://:${REDIS_PASSWORD}@redis:6379/1"
        workers: 4
        replicas: 3
        shutdown_timeout: 45
        resources: {cpu: 250m, memory: 256Mi}
        env: {SMTP_HOST: mail.internal, SMTP_URL: "smtp://u:${SMTP_PASSWORD}@mail"}
      reports:
        app: reports:huey
        storage: redis://redis:6379/2
        heartbeat_timeout: 60
    """
TARGETS = ("kubernetes", "systemd", "compose")
# A recent Kubernetes whose schemas kubernetes-validate ships (checked offline).
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "project").mkdir()
    return write_manifest(tmp_path / "project" / "hueyctl.yaml", MANIFEST)


def exported(hueyctl, manifest: Path, target: str, directory: Path) -> dict[str, str]:
    """Run `hueyctl export` into ``directory``; every file it holds, by relative name."""
    result = hueyctl("export", "--to", target, manifest, "-o", directory)
    assert result.exit_code == 0, result.output
    return {
        p.relative_to(directory).as_posix(): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def documents(files: dict[str, str]) -> list[dict]:
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("target", TARGETS)
def test_two_exports_of_one_manifest_are_identical_wherever_it_lies(
    hueyctl, manifest: Path, tmp_path: Path, target: str
) -> None:
    first = exported(hueyctl, manifest, target, tmp_path / "one")
    moved = tmp_path / "elsewhere" / "hueyctl.yaml"
    moved.parent.mkdir()
    shutil.copy(manifest, moved)
    assert exported(hueyctl, manifest, target, tmp_path / "two") == first
    assert exported(hueyctl, moved, target, tmp_path / "three") == first


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_are_referenced_never_written(
    hueyctl, manifest: Path, tmp_path: Path, target: str
) -> None:
    files = exported(hueyctl, manifest, target, tmp_path / "out")
    text = "".join(files.values())
    for name, value in SECRETS.items():
        assert value not in text
        assert name in text  # named, for the operator to provide
    printed = hueyctl("export", "--to", target, manifest)
    assert printed.exit_code == 0
    assert all(value not in printed.output for value in SECRETS.values())


@pytest.mark.parametrize("target", TARGETS)
def test_a_change_to_one_instance_changes_only_what_runs_it(
    hueyctl, manifest: Path, tmp_path: Path, target: str
) -> None:
    before = exported(hueyctl, manifest, target, tmp_path / "before")
    manifest.write_text(manifest.read_text().replace("workers: 4", "workers: 6"))
    after = exported(hueyctl, manifest, target, tmp_path / "after")
    changed = sorted(name for name in before if before[name] != after[name])
    assert (
        changed
        == {
            "kubernetes": ["emails.yaml", "manifest.yaml"],
            "systemd": ["huey-shop@emails.service.d/hueyctl.conf"],
            "compose": ["compose.yaml", "hueyctl.yaml"],
        }[target]
    )
    if target == "compose":  # only the emails service's definition changed
        services = [yaml.safe_load(f["compose.yaml"])["services"] for f in (before, after)]
        assert services[0]["reports"] == services[1]["reports"]
        assert services[0]["emails"] != services[1]["emails"]


def test_a_removed_instance_loses_its_files_and_nothing_else(
    hueyctl, manifest: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    exported(hueyctl, manifest, "kubernetes", out)
    exported(hueyctl, manifest, "systemd", out / "units")
    (out / "kustomization.yaml").write_text("resources: []\n")  # the operator's own
    text = manifest.read_text()
    manifest.write_text(text[: text.index("  reports:")])
    files = exported(hueyctl, manifest, "kubernetes", out)
    assert "emails.yaml" in files and "reports.yaml" not in files
    assert "kustomization.yaml" in files
    assert (out / "units" / "huey-shop@reports.service.d").is_dir()  # another target's
    exported(hueyctl, manifest, "systemd", out / "units")
    assert sorted(p.name for p in (out / "units").iterdir()) == [
        "huey-shop@.service",
        "huey-shop@emails.service.d",
    ]


def test_kubernetes_objects_pass_the_kubernetes_schemas(
    hueyctl, manifest: Path, tmp_path: Path
) -> None:
    objects = documents(exported(hueyctl, manifest, "kubernetes", tmp_path / "out"))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "shop-emails-env"),
        ("Deployment", "shop-emails"),
        ("ConfigMap", "shop-manifest"),
        ("ConfigMap", "shop-reports-env"),
        ("Deployment", "shop-reports"),
    ]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_kubernetes_runs_the_consumer_directly_and_drains_it(
    hueyctl, manifest: Path, tmp_path: Path
) -> None:
    objects = documents(exported(hueyctl, manifest, "kubernetes", tmp_path / "out"))
    by_name = {o["metadata"]["name"]: o for o in objects}
    pod = by_name["shop-emails"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert by_name["shop-emails"]["spec"]["replicas"] == 3
    assert by_name["shop-reports"]["spec"]["replicas"] == 1  # none given
    assert container["command"] == [
        "python", "-m", "hueyctl.launch", "/app/hueyctl.yaml", "emails"
    ]  # fmt: skip
    # SIGTERM (the kubelet's signal) drains like SIGINT; the grace outlasts the drain.
    assert pod["terminationGracePeriodSeconds"] > 45
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe == ["python", "-m", "hueyctl.liveness", "/app/hueyctl.yaml", "emails"]
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert secret_refs == {name: {"name": "shop-secrets", "key": name} for name in sorted(SECRETS)}
    env = by_name["shop-emails-env"]["data"]
    assert env["APP_ENV"] == "production" and env["PRICE"] == "5$"
    assert "SMTP_URL" not in env  # names a secret: the launcher sets it from the Secret
    assert by_name["shop-manifest"]["data"]["hueyctl.yaml"] == manifest.read_text()
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}}
    reports = by_name["shop-reports"]["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in reports  # it reads no secret
    assert "resources" not in reports  # it asks for none


@pytest.mark.parametrize(
    ("storage", "refusal"),
    [
        ("", "uses SQLite"),  # the default: SQLite in the state directory
        ("file:queues", "uses file storage (file:queues): pods do not share a directory"),
    ],
)
def test_kubernetes_refuses_an_instance_on_one_hosts_disk(
    hueyctl, tmp_path: Path, storage: str, refusal: str
) -> None:
    given = f", storage: '{storage}'" if storage else ""
    manifest = write_manifest(
        tmp_path / "m.yaml",
        f"version: 1\nproject: p\ninstances:\n  solo: {{app: 'tasks:huey'{given}}}\n",
    )
    result = hueyctl("export", "--to", "kubernetes", manifest)
    assert result.exit_code == 2
    assert refusal in result.output and "redis://" in result.output
    # Compose and systemd run on one host: they export it.
    for target in ("compose", "systemd"):
        assert exported(hueyctl, manifest, target, tmp_path / target)


def test_an_unknown_target_is_bad_input(hueyctl, manifest: Path) -> None:
    result = hueyctl("export", "--to", "nomad", manifest)
    assert result.exit_code == 2
    assert "kubernetes, systemd, compose" in result.output


def _unit_settings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and line[0] not in "#;["]


def test_systemd_units_stop_gracefully_and_are_hardened_like_deploys(
    hueyctl, manifest: Path, tmp_path: Path
) -> None:
    files = exported(hueyctl, manifest, "systemd", tmp_path / "out")
    assert sorted(files) == [
        "huey-shop@.service",
        "huey-shop@emails.service.d/hueyctl.conf",
        "huey-shop@reports.service.d/hueyctl.conf",
    ]
    unit = _unit_settings(files["huey-shop@.service"])
    assert "KillSignal=SIGINT" in unit
    assert "EnvironmentFile=-/etc/hueyctl/shop.env" in unit
    assert "TimeoutStopSec=55" in files["huey-shop@emails.service.d/hueyctl.conf"]
    deployed = Path(__file__).parents[2] / "deploy" / "systemd" / "hueyctl@.service"
    hardening = _unit_settings(deployed.read_text().split("# Hardening", 1)[1].split("\n", 1)[1])
    hardening.remove("WantedBy=multi-user.target")
    assert set(hardening) <= set(unit)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_every_instance_unit(manifest: Path, tmp_path: Path) -> None:
    model = load(manifest, resolve=False)
    for name, text in systemd.export(model, python=sys.executable).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for instance in model.instances:
        unit = tmp_path / systemd.unit_name(model, instance)
        checked = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stderr
        assert checked.stderr == ""  # no warning either (an unknown key is only a warning)


def test_compose_has_a_draining_healthchecked_service_per_instance(
    hueyctl, manifest: Path, tmp_path: Path
) -> None:
    files = exported(hueyctl, manifest, "compose", tmp_path / "out")
    assert files["hueyctl.yaml"] == manifest.read_text()
    project = yaml.safe_load(files["compose.yaml"])
    assert project["name"] == "shop"
    assert sorted(project["services"]) == ["emails", "reports"]
    emails = project["services"]["emails"]
    assert emails["command"][-2:] == ["/app/hueyctl.yaml", "emails"]
    assert emails["stop_signal"] == "SIGINT"
    assert emails["stop_grace_period"] == "55s"
    assert emails["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "hueyctl.liveness"]
    assert emails["deploy"]["replicas"] == 3
    assert project["services"]["reports"]["deploy"]["replicas"] == 1
    assert emails["environment"]["REDIS_PASSWORD"] == "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    assert emails["environment"]["PRICE"] == "5$$"  # Compose reads "$$" as "$"
    assert "./hueyctl.yaml:/app/hueyctl.yaml:ro" in emails["volumes"]
    assert set(project["volumes"]) == {"state"}


def _compose_missing() -> str:
    """Why `docker compose` cannot check a file here, or "" when it can."""
    if shutil.which("docker") is None:
        return "no docker here"
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    return "" if version.returncode == 0 else "docker has no compose plugin here"


COMPOSE_MISSING = _compose_missing()


@pytest.mark.skipif(bool(COMPOSE_MISSING), reason=COMPOSE_MISSING)
def test_docker_compose_accepts_the_project(hueyctl, manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    exported(hueyctl, manifest, "compose", out)
    checked = subprocess.run(
        ["docker", "compose", "-f", str(out / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def test_last_heartbeat_counts_only_this_hosts_consumers() -> None:
    beats = {"pod-a:1:ab12:0": 100.0, "pod-a:1:ab12:1": 104.0, "pod-ab:7:cd34:0": 200.0}
    assert last_heartbeat(beats, "pod-a") == 104.0
    assert last_heartbeat(beats, "pod-b") is None


def _probe(manifest: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hueyctl.liveness", str(manifest), "live"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_liveness_check_passes_while_the_consumer_heartbeats_and_fails_once_it_stops(
    tmp_path: Path, redis_server
) -> None:
    redis_server.start()
    redis_server.flushdb()
    write_app(tmp_path, "live_tasks", "live")
    manifest = write_manifest(
        tmp_path / "hueyctl.yaml",
        f"""
        version: 1
        project: live
        instances:
          live: {{app: "live_tasks:huey", storage: "{redis_server.url}", heartbeat_timeout: 3}}
        """,
    )
    assert _probe(manifest).returncode == 1  # no consumer yet
    consumer = subprocess.Popen(
        [sys.executable, "-m", "hueyctl.launch", str(manifest), "live"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _probe(manifest).returncode == 0, timeout=60)
        os.kill(consumer.pid, signal.SIGSTOP)  # hung: its heartbeats stop
        assert wait_until(lambda: _probe(manifest).returncode == 1, timeout=60)
        assert "last heartbeat" in _probe(manifest).stderr
    finally:
        consumer.kill()
        consumer.wait(30)
