"""A fleet of three hosts, each a network namespace running ``hueyctl up`` of the same
manifest against one Redis in a fourth namespace (addresses in 10.213.7.0/24, which exists
only inside these namespaces; the test itself reaches Redis through its unix socket).

Host clocks disagree by a few seconds (HUEY_CLOCK_OFFSET), one host loses every process
mid-load and another loses its network for longer than the heartbeat timeout; the test
counts what ran. docs/deploy/fleet.md has the figures."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import _redis_server_binary
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

NET = "10.213.7"
REDIS_IP = f"{NET}.1"
HEARTBEAT_TIMEOUT = 6
OFFSETS = {"h1": 3.0, "h2": -4.0, "h3": 0.0}  # seconds each host's clock is off
OBSERVE = 240  # seconds from the fleet's start to the end of the periodic check
SETTLED = 60  # ticks are checked from this many seconds after every host is up

APP = '''
"""The fleet's app: every run appends "kind id host unix-time" to the log all hosts share."""
import os
import time
from pathlib import Path

from huey import Huey

HOST = Path(__file__).resolve().parent.name
LOG = Path(__file__).resolve().parent.parent / "ran.log"
huey = Huey("fleet")


def _record(kind, ident):
    with open(LOG, "a") as log:
        log.write(f"{kind} {ident} {HOST} {time.time():.3f}\\n")


@huey.task()
def work(number):
    time.sleep(0.05)
    _record("work", number)


def tick():
    _record("tick", "-")
'''

MANIFEST = f"""
version: 1
project: fleet
instances:
  work:
    app: "fleetapp:huey"
    storage: "redis://{REDIS_IP}:6379/0?socket_timeout=3&socket_connect_timeout=3"
    workers: 4
    heartbeat_timeout: {HEARTBEAT_TIMEOUT}
    startsecs: 1
    env: {{HUEY_CLOCK_OFFSET: "${{HUEY_CLOCK_OFFSET}}"}}
    schedules:
      tick: {{task: "fleetapp:tick", cron: "* * * * *"}}
"""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def in_ns(ns: str, *command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *command], **kwargs)


class Fleet:
    """The namespaces, links, Redis and hosts; ``close()`` removes every one of them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        tag = uuid.uuid4().hex[:5]
        self.redis_ns = f"fl{tag}r"
        self.hosts = {name: f"fl{tag}{name}" for name in OFFSETS}
        self.links = {name: (f"v{tag}{name}", f"b{tag}{name}") for name in OFFSETS}
        self.socket = base / "redis.sock"
        self.redis: subprocess.Popen | None = None

    def build(self) -> None:
        r = self.redis_ns
        ip("netns", "add", r)
        in_ns(r, "ip", "link", "set", "lo", "up", check=True)
        in_ns(r, "ip", "link", "add", "br0", "type", "bridge", check=True)
        in_ns(r, "ip", "addr", "add", f"{REDIS_IP}/24", "dev", "br0", check=True)
        in_ns(r, "ip", "link", "set", "br0", "up", check=True)
        for number, (name, ns) in enumerate(self.hosts.items(), start=10):
            host_end, bridge_end = self.links[name]
            ip("netns", "add", ns)
            ip("link", "add", host_end, "netns", ns, "type", "veth", "peer", bridge_end, "netns", r)
            in_ns(r, "ip", "link", "set", bridge_end, "master", "br0", "up", check=True)
            in_ns(ns, "ip", "link", "set", "lo", "up", check=True)
            in_ns(ns, "ip", "addr", "add", f"{NET}.{number}/24", "dev", host_end, check=True)
            in_ns(ns, "ip", "link", "set", host_end, "up", check=True)

    def start_redis(self) -> None:
        command = ["ip", "netns", "exec", self.redis_ns, _redis_server_binary()]
        command += ["--bind", REDIS_IP, "--port", "6379", "--protected-mode", "no"]
        command += ["--unixsocket", str(self.socket), "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.base)]
        log = open(self.base / "redis.log", "ab")  # noqa: SIM115 - the server keeps it
        self.redis = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        assert wait_until(self.socket.exists, timeout=30), "redis-server did not start"

    def host_dir(self, name: str) -> Path:
        return self.base / name

    def hueyctl(self, name: str, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HUEY_CLOCK_OFFSET": str(OFFSETS[name])}
        env["HUEYCTL_STATE_HOME"] = str(self.host_dir(name) / "home")
        hueyctl = str(Path(sys.executable).with_name("hueyctl"))
        manifest = str(self.host_dir(name) / "fleet.yaml")
        return in_ns(
            self.hosts[name], hueyctl, *args, manifest, env=env, capture_output=True, text=True
        )

    def up(self, name: str) -> None:
        directory = self.host_dir(name)
        directory.mkdir()
        (directory / "fleetapp.py").write_text(APP)
        (directory / "fleet.yaml").write_text(MANIFEST)
        result = self.hueyctl(name, "up")
        assert result.returncode == 0, result.stdout + result.stderr

    def pids(self, name: str) -> list[int]:
        listed = ip("netns", "pids", self.hosts[name], check=False).stdout.split()
        return [int(pid) for pid in listed]

    def kill_host(self, name: str) -> None:
        """Every process of the host at once, as a lost machine."""
        for pid in self.pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cut(self, name: str, connected: bool) -> None:
        """Take the host's cable out (its own side stays up, so packets vanish) or back."""
        state = "up" if connected else "down"
        in_ns(self.redis_ns, "ip", "link", "set", self.links[name][1], state, check=True)

    def close(self) -> None:
        for name in self.hosts:
            if self.host_dir(name).exists() and self.pids(name):
                self.hueyctl(name, "down")
                self.kill_host(name)
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
        for ns in (*self.hosts.values(), self.redis_ns):
            ip("netns", "del", ns, check=False)


def _can_build_namespaces() -> str | None:
    """Why this machine cannot run the fleet, or None."""
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    probe = f"flprobe{uuid.uuid4().hex[:5]}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create network namespaces: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    reason = _can_build_namespaces()
    if reason:
        pytest.skip(reason)
    built = Fleet(tmp_path)
    try:
        built.build()
        built.start_redis()
        for name in OFFSETS:
            built.up(name)
        yield built
    finally:
        built.close()


def _runs(log: Path, kind: str) -> list[tuple[str, str, float]]:
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(ident, host, float(at)) for k, ident, host, at in rows if k == kind]


def _enqueue(fleet: Fleet, start: int, count: int) -> list[int]:
    spec = importlib.util.spec_from_file_location("fleetapp", fleet.host_dir("h3") / "fleetapp.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    app.huey.use_storage(f"unix://{fleet.socket}")
    numbers = list(range(start, start + count))
    for number in numbers:
        app.work(number)
    app.huey.storage.close()
    return numbers


def _all_ran(log: Path, numbers: list[int]) -> bool:
    ran = {int(ident) for ident, _, _ in _runs(log, "work")}
    return ran.issuperset(numbers)


def test_a_fleet_keeps_its_guarantees(fleet: Fleet) -> None:
    log = fleet.base / "ran.log"
    client = redis.Redis(unix_socket_path=str(fleet.socket))
    began = time.time()

    def consumers() -> int:
        return client.zcard("huey:{fleet}:consumers")

    assert wait_until(lambda: consumers() >= 3 * 4, timeout=60)

    # 1. A whole host dies mid-load: its in-flight tasks run elsewhere after the timeout.
    first = _enqueue(fleet, 0, 400)
    assert wait_until(lambda: len(_runs(log, "work")) >= 60, timeout=60)
    fleet.kill_host("h1")
    assert wait_until(lambda: _all_ran(log, first), timeout=HEARTBEAT_TIMEOUT * 10)
    killed = Counter(ident for ident, _, _ in _runs(log, "work"))

    # 2. A host's network is cut for twice the heartbeat timeout, then restored.
    second = _enqueue(fleet, 1000, 400)
    assert wait_until(lambda: len(_runs(log, "work")) >= len(first) + 60, timeout=60)
    fleet.cut("h2", connected=False)
    time.sleep(HEARTBEAT_TIMEOUT * 2.5)
    fleet.cut("h2", connected=True)
    assert wait_until(lambda: _all_ran(log, second), timeout=HEARTBEAT_TIMEOUT * 10)

    # 3. Periodic ticks for the whole run: once a minute across the fleet, none missed.
    remaining = began + OBSERVE - time.time()
    if remaining > 0:
        time.sleep(remaining)
    all_ticks = sorted((round(at - began, 1), host) for _, host, at in _runs(log, "tick"))
    ticks = [at for at, _ in all_ticks if at >= SETTLED]
    gaps = [round(later - earlier, 1) for earlier, later in zip(ticks, ticks[1:], strict=False)]

    runs = Counter(ident for ident, _, _ in _runs(log, "work"))
    twice_after_kill = sum(count - 1 for ident, count in killed.items() if int(ident) < 1000)
    twice_after_cut = sum(count - 1 for ident, count in runs.items() if int(ident) >= 1000)
    by_host = Counter(host for _, host, _ in _runs(log, "work"))
    print(
        f"\nfleet: {len(first)} tasks, h1 killed: lost 0, ran twice {twice_after_kill}; "
        f"{len(second)} tasks, h2 cut {HEARTBEAT_TIMEOUT * 2.5:.0f} s: ran twice "
        f"{twice_after_cut}; runs by host {dict(by_host)}; ticks (s, host) {all_ticks}"
    )
    # Once every minute, give or take the hosts' skew; none twice, none missed.
    assert len(ticks) >= 2 and ticks[0] < SETTLED + 75 and ticks[-1] > OBSERVE - 75
    assert all(45 <= gap <= 75 for gap in gaps), gaps
    # A task runs twice only when it was in flight on the host that was lost: at most
    # the host's workers' prefetched batches.
    assert twice_after_kill <= 4 * 8
