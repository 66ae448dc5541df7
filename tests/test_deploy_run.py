"""deploy/'s recipes executed as written, not only parsed, against a private Redis.

The Dockerfile's instructions run in order on a throwaway directory standing for the
image's root (RUN, COPY, ENV, WORKDIR, USER, then HEALTHCHECK and CMD), and the systemd
unit's Exec lines run with its StateDirectory made as systemd makes it; both as an
unprivileged user, as in production. Two things differ, and only these: no user is
added to the test machine (the image's uid is used without a name), and `pip install`
of the project is not repeated (this venv has it). The test venv may sit in a
directory only root can read, so the user keeps one capability, reading files
(CAP_DAC_READ_SEARCH); everything it creates or writes is checked as that user.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_deploy import (
    CONTAINER_MANIFEST,
    DEPLOY,
    DOCKERFILE,
    REPO,
    UNIT,
    one,
    read_dockerfile,
    read_unit,
)
from .test_examples import (
    EXAMPLES,
    HUEYCTL,
    flush_private_databases,
    on_private_redis,
    processes_under,
    short_directory,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("setpriv") is None,
        reason="runs the recipes as another user: needs root and setpriv",
    ),
]

# The uid the unit's User= gets here (the image says its own).
UNIT_UID = 10002
SCRIPTS = ("hueyctl", "supervisorctl", "supervisord", "huey_consumer")


@pytest.fixture(scope="module")
def venv() -> Iterator[Path]:
    """The project installed where a user can run it, as `pip install` does in production:
    a venv whose python is a copy (supervisord refuses a command the user's access()
    cannot check, and this venv's python links into root's home), reaching this venv's
    packages, with the console scripts on its python."""
    with short_directory() as directory:
        directory.chmod(0o755)
        subprocess.run(
            [sys._base_executable, "-m", "venv", "--copies", "--without-pip", directory],
            check=True,
        )
        site_packages = next(directory.glob("lib/python*/site-packages"))
        ours = sysconfig.get_path("purelib")
        (site_packages / "tests.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        for name in SCRIPTS:
            script = HUEYCTL.with_name(name).read_text().split("\n", 1)[1]
            (directory / "bin" / name).write_text(f"#!{directory}/bin/python\n{script}")
            (directory / "bin" / name).chmod(0o755)
        yield directory / "bin"


def as_user(uid: int | None) -> list[str]:
    """The prefix that runs a command as ``uid`` (same gid), or nothing for root."""
    if uid is None:
        return []
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    ]


def base_env(bin: Path) -> dict[str, str]:
    """What a fresh image or a systemd service starts with: a PATH (``bin`` first)."""
    return {"PATH": f"{bin}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class Image:
    """A Dockerfile's instructions run on ``root``, which stands for the image's "/"."""

    def __init__(self, root: Path, redis_server, bin: Path) -> None:
        root.chmod(0o755)  # like "/"
        self.root = root
        self.redis = redis_server
        self.bin = bin
        self.env = base_env(bin)
        self.workdir = "/"
        self.uid: int | None = None
        self.users: dict[str, int] = {}
        self.healthcheck: list[str] = []
        self.command: list[str] = []

    def path(self, text: str) -> str:
        """Image paths (under a directory some WORKDIR names) moved under ``root``."""
        tops = {"/" + Path(w).parts[1] for op, w in read_dockerfile(DOCKERFILE) if op == "WORKDIR"}
        pattern = "|".join(re.escape(t) for t in sorted(tops))
        return re.sub(rf"(?<![\w./-])({pattern})(?=/|\b)", lambda m: f"{self.root}{m[1]}", text)

    def run(self, op: str, args: str) -> None:
        """Carry out one instruction."""
        steps = {
            "FROM": lambda _: None,  # the base image: this machine
            "ENV": self.set_env,
            "WORKDIR": self.set_workdir,
            "COPY": self.copy,
            "USER": self.set_user,
            "RUN": self.run_shell,
            "HEALTHCHECK": self.set_healthcheck,
            "CMD": self.set_command,
        }
        steps[op](args)

    def set_env(self, args: str) -> None:
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            self.env[key] = self.path(value)

    def set_workdir(self, args: str) -> None:
        self.workdir = args
        Path(self.path(args)).mkdir(parents=True, exist_ok=True)

    def copy(self, args: str) -> None:
        source, dest = args.split()[-2:]
        target = Path(self.path(str(Path(self.workdir) / dest)))
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target, dirs_exist_ok=True)
        elif (REPO / source) == CONTAINER_MANIFEST:  # its Redis is the test's own
            target.write_text(on_private_redis(CONTAINER_MANIFEST.read_text(), self.redis))
        else:
            shutil.copy(REPO / source, target)

    def set_user(self, args: str) -> None:
        self.uid = self.users[args.split(":")[0]]

    def run_shell(self, args: str) -> None:
        words = shlex.split(args)
        if words[0] == "useradd":  # remembered, not added to the test machine
            self.users[words[-1]] = int(words[words.index("--uid") + 1])
            return
        command = args.replace("pip install /src", "true")  # the venv fixture did it
        for name, uid in self.users.items():
            command = re.sub(rf"(-[og]) {name}\b", rf"\1 {uid}", command)
        done = self.call(["sh", "-c", self.path(command)])
        assert done.returncode == 0, f"RUN {args}\n{done.stdout}{done.stderr}"

    def set_healthcheck(self, args: str) -> None:
        self.healthcheck = [self.path(w) for w in json.loads(args.partition("CMD ")[2])]

    def set_command(self, args: str) -> None:
        self.command = [self.path(w) for w in json.loads(args)]

    def call(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*as_user(self.uid), *argv],
            cwd=self.path(self.workdir),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )


def test_dockerfile_instructions_build_and_run_the_image_as_its_user(redis_server, venv):
    redis_server.start()
    with short_directory() as root:
        image = Image(root, redis_server, venv)
        for op, args in read_dockerfile(DOCKERFILE):
            image.run(op, args)  # the build, its validate as the image's user included
        manifest = Path(image.command[-1])
        flush_private_databases(manifest.read_text(), redis_server)
        state_dir = root / "app" / ".hueyctl"
        assert state_dir.stat().st_uid == image.uid

        # The container's environment: the image's, and the secret compose.yaml passes.
        image.env["SMTP_PASSWORD"] = "not-a-secret"
        with (root / "main.log").open("w+") as log:
            main = subprocess.Popen(
                [*as_user(image.uid), *image.command],
                cwd=image.path(image.workdir),
                env=image.env,
                stdout=log,
                stderr=log,
            )
            try:
                healthy = lambda: image.call(image.healthcheck).returncode == 0  # noqa: E731
                wait_for(lambda: main.poll() is not None or healthy(), 60)
                assert main.poll() is None, log_text(log)
                demo = image.call([venv / "python", EXAMPLES / "enqueue_demo.py", manifest])
                assert demo.returncode == 0, demo.stdout + demo.stderr
                assert "reports.monthly_total -> 100.0" in demo.stdout
                # `docker logs` shows the consumers' own log lines.
                wait_for(lambda: "reports | " in log_text(log), 30)
                main.send_signal(signal.SIGTERM)  # `docker stop`
                assert main.wait(timeout=90) == 0, log_text(log)
            finally:
                stop(main)
        assert processes_under(root) == []
        assert {p.stat().st_uid for p in state_dir.rglob("*")} == {image.uid}


def log_text(log) -> str:
    log.flush()
    return Path(log.name).read_text()


def stop(main: subprocess.Popen) -> None:
    if main.poll() is None:
        main.terminate()
        main.wait(timeout=90)


def systemd_manifest() -> str:
    """The manifest deploy/README.md shows for the unit."""
    text = (DEPLOY / "README.md").read_text()
    return next(s for s in re.findall(r"```yaml\n(.*?)```", text, re.S) if "project: shop" in s)


def test_systemd_unit_commands_run_the_deployment_as_its_user(redis_server, venv):
    redis_server.start()
    service = read_unit(UNIT)["Service"]
    with short_directory() as root:
        root.chmod(0o755)  # like "/"
        home = root / "srv" / "hueyctl" / "shop"
        shutil.copytree(EXAMPLES / "demo", home / "demo")
        manifest = home / "hueyctl.yaml"
        manifest.write_text(on_private_redis(systemd_manifest(), redis_server))
        flush_private_databases(manifest.read_text(), redis_server)
        env_file = root / one(service, "EnvironmentFile").lstrip("-").lstrip("/")
        env_file = Path(str(env_file).replace("%i", "shop"))
        env_file.parent.mkdir(parents=True)
        env_file.write_text("SMTP_PASSWORD=not-a-secret\n")

        def expand(text: str) -> str:
            text = text.replace("%S", str(root / "var" / "lib")).replace("%i", "shop")
            text = text.replace("/opt/hueyctl/bin/", f"{venv}/")
            return re.sub(r"(?<![\w./-])(/srv|/etc)(?=/)", lambda m: f"{root}{m[1]}", text)

        # StateDirectory=: systemd makes it, empty, owned by User=, StateDirectoryMode=.
        state_dir = root / "var" / "lib" / expand(one(service, "StateDirectory"))
        state_dir.mkdir(parents=True)
        os.chown(state_dir, UNIT_UID, UNIT_UID)
        state_dir.chmod(int(one(service, "StateDirectoryMode"), 8))
        env = base_env(venv)
        for assignment in service.get("Environment", []):
            key, _, value = expand(assignment).partition("=")
            env[key] = value
        env.update(line.split("=", 1) for line in env_file.read_text().splitlines())

        def command(key: str) -> subprocess.Popen:
            return subprocess.Popen(
                [*as_user(UNIT_UID), *shlex.split(expand(one(service, key)))],
                cwd=expand(one(service, "WorkingDirectory")),
                env=env,
                umask=int(one(service, "UMask"), 8),
                stdout=journal,
                stderr=journal,
            )

        with (root / "journal").open("w+") as journal:
            for key in ("ExecStartPre",) if "ExecStartPre" in service else ():
                assert command(key).wait(timeout=120) == 0, log_text(journal)
            main = command("ExecStart")
            try:
                wait_for(lambda: main.poll() is not None or running(venv, env), 60)
                assert main.poll() is None, log_text(journal)
                assert command("ExecReload").wait(timeout=120) == 0, log_text(journal)
                wait_for(lambda: "emails | " in log_text(journal), 30)  # journald sees them
                for line in readme_service_user_commands():
                    # As written: the service user, no secrets, no unit environment.
                    looked = run_as_service_user(expand(line.replace("/var/lib", "%S")), venv)
                    assert looked.returncode == 0 and looked.stdout, (line, looked.stderr)
                main.send_signal(signal.SIGTERM)  # systemctl stop, KillMode=mixed
                assert main.wait(timeout=int(one(service, "TimeoutStopSec"))) == 0
            finally:
                stop(main)
        assert processes_under(root) == []
        assert {p.stat().st_uid for p in state_dir.rglob("*")} == {UNIT_UID}


def readme_service_user_commands() -> list[str]:
    """The lines of deploy/README.md that inspect the unit's deployment as its user."""
    text = (DEPLOY / "README.md").read_text()
    found = re.findall(r"^sudo -u hueyctl .*$", text, re.MULTILINE)
    assert len(found) >= 2, "the README's recipe for the service user moved"
    return found


def run_as_service_user(line: str, bin: Path) -> subprocess.CompletedProcess:
    """``sudo -u hueyctl VAR=value... COMMAND`` run as the unit's uid with only those
    variables (sudo resets the rest), from a directory that user cannot write."""
    words = shlex.split(line)[3:]
    env = base_env(bin)
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return subprocess.run(
        [*as_user(UNIT_UID), *words], env=env, cwd="/", capture_output=True, text=True, timeout=60
    )


def running(bin: Path, env: dict[str, str]) -> bool:
    status = subprocess.run(
        [*as_user(UNIT_UID), bin / "hueyctl", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = json.loads(status.stdout) if status.returncode == 0 else []
    return bool(rows) and all(row["state"] == "RUNNING" for row in rows)
