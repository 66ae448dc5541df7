"""Redis behind Sentinel: the URL, the master it finds, and a failover under a running consumer.

The cluster is real: a master, a replica and two Sentinels (``redis-server --sentinel``)
on free loopback ports, started by the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.sentinel import SentinelManagedSSLConnection

from huey import Huey
from huey.consumer import Consumer
from huey.exceptions import ConfigurationError, QueueException
from huey.storage import RedisStorage, sentinel, storage_from_url
from tests.conftest import _free_port, _redis_server_binary
from tests.waiting import wait_until

SERVICE = "mymaster"


def test_the_url_names_sentinels_service_db_and_credentials() -> None:
    url = "redis+sentinel://app:s%40cret@s1:26380,s2,[::1]:26381/mymaster/3?socket_timeout=2"
    parsed = sentinel.parse(url)
    assert parsed.sentinels == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (parsed.service, parsed.db, parsed.username, parsed.password) == (
        "mymaster",
        3,
        "app",
        "s@cret",
    )
    assert parsed.options == {"socket_timeout": 2.0} and not parsed.tls
    assert sentinel.parse("redis+sentinel://s1/mymaster").db == 0


def test_tls_and_sentinel_credentials_reach_both_sides_without_connecting() -> None:
    url = "rediss+sentinel://:pw@s1:26379/m/1?sentinel_password=spw&ssl_cert_reqs=none"
    store = storage_from_url(url, name="app")
    pool = store._client.connection_pool
    assert issubclass(pool.connection_class, SentinelManagedSSLConnection)
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    asked = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (asked["password"], asked["ssl_cert_reqs"]) == ("spw", "none")
    assert "Sentinel service 'm' via s1:26379" == store.where


@pytest.mark.parametrize(
    "url, message",
    [
        ("redis+sentinel://s1:26379", "write redis\\+sentinel://"),
        ("redis+sentinel://s1:26379/m/x", "'x' is not a number"),
        ("redis+sentinel://s1:port/m", "bad Sentinel address 's1:port'"),
        ("redis+sentinel://s1/m?colour=red", "unknown Sentinel URL option 'colour'"),
    ],
)
def test_malformed_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        storage_from_url(url, name="a")


class SentinelCluster:
    """A master, its replica and two Sentinels watching them, all on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.binary = _redis_server_binary()
        self.processes: list[subprocess.Popen] = []
        self.ports = {name: _free_port() for name in ("a", "b", "s1", "s2")}
        self.url = (
            f"redis+sentinel://127.0.0.1:{self.ports['s1']},127.0.0.1:{self.ports['s2']}"
            f"/{SERVICE}/0"
        )

    def start(self) -> None:
        self._server("a")
        self._server("b", "--replicaof", "127.0.0.1", str(self.ports["a"]))
        assert wait_until(lambda: self._synced("b"), timeout=30)
        for name in ("s1", "s2"):
            conf = self.workdir / f"{name}.conf"
            conf.write_text(
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.ports['a']} 1\n"
                f"sentinel down-after-milliseconds {SERVICE} 2000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
            )
            self._server(name, str(conf), "--sentinel", config=False)
        assert wait_until(self._replica_known, timeout=30)

    def _server(self, name: str, *args: str, config: bool = True) -> None:
        command = [self.binary, *args] if not config else [self.binary]
        command += ["--port", str(self.ports[name]), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.workdir), "--save", "", "--appendonly", "no"]
        if config:
            command += list(args)
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        assert wait_until(lambda: self._answers(name), timeout=30), f"{name} did not start"

    def client(self, name: str) -> redis.Redis:
        return redis.Redis("127.0.0.1", self.ports[name], socket_timeout=5)

    def _answers(self, name: str) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports[name]), timeout=0.5):
                return True
        except OSError:
            return False

    def _synced(self, name: str) -> bool:
        return self.client(name).info("replication").get("master_link_status") == "up"

    def _replica_known(self) -> bool:
        for name in ("s1", "s2"):
            replicas = self.client(name).sentinel_slaves(SERVICE)
            if not any(not replica["is_odown"] and not replica["is_sdown"] for replica in replicas):
                return False
        return True

    def master_port(self) -> int:
        return int(self.client("s1").sentinel_get_master_addr_by_name(SERVICE)[1])

    def failover(self) -> int:
        """Ask a Sentinel to promote the replica; the new master's port once both agree."""
        before = self.master_port()
        assert wait_until(self._failover_started, timeout=30, interval=0.5)
        assert wait_until(lambda: self.master_port() != before, timeout=30)
        after = self.master_port()
        old = "a" if self.ports["a"] == before else "b"
        assert wait_until(lambda: self._synced(old), timeout=30), "the old master never rejoined"
        return after

    def _failover_started(self) -> bool:
        """Ask for a failover; False while the Sentinel has no fresh view of the replica."""
        try:
            self.client("s1").execute_command("SENTINEL FAILOVER", SERVICE)
        except redis.ResponseError as exc:
            if str(exc).startswith("NOGOODSLAVE"):
                return False
            raise
        return True

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    running = SentinelCluster(tmp_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_storage_reaches_the_current_master_and_follows_a_failover(cluster) -> None:
    store = RedisStorage(f"sentinel-{uuid.uuid4().hex[:6]}", url=cluster.url)
    store.enqueue(b"before")
    new_port = cluster.failover()
    # Commands sent on connections to the demoted master fail once (READONLY or closed);
    # the next ones reach the new master.
    assert wait_until(lambda: _enqueues(store, b"after"), timeout=30)
    assert store._wire._take().connection.port == new_port
    assert sorted(store.enqueued_items()) == [b"after", b"before"]
    store.close()


@pytest.mark.slow
def test_an_enqueue_after_the_promotion_reaches_the_new_master(cluster) -> None:
    """A Sentinel demotes a healthy old master only when it next polls it, up to 10 s after
    promoting the replica; until then the old master takes writes that its resync then
    throws away. An open connection must leave it within a quarter of a second of the promotion."""
    store = RedisStorage(f"promoted-{uuid.uuid4().hex[:6]}", url=cluster.url)
    store.enqueue(b"before")  # the connection is open to the old master
    old_port = cluster.master_port()
    assert wait_until(cluster._failover_started, timeout=30, interval=0.5)
    assert wait_until(lambda: cluster.master_port() != old_port, timeout=30)
    time.sleep(1.0)  # connections ask the Sentinels again every quarter of a second
    store.enqueue(b"after")
    old = "a" if cluster.ports["a"] == old_port else "b"
    assert wait_until(lambda: cluster._synced(old), timeout=30), "the old master never rejoined"
    assert wait_until(lambda: _enqueues(store, b"later"), timeout=30)
    assert sorted(store.enqueued_items()) == [b"after", b"before", b"later"]
    store.close()


def _enqueues(store: RedisStorage, data: bytes) -> bool:
    try:
        store.enqueue(data)
    except (QueueException, redis.RedisError):
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_failover_under_load(cluster, wait_replicas: int) -> None:
    """A producer enqueues faster than the consumer drains, so a backlog waits in the queue
    while a Sentinel fails over. With ``wait_replicas=1`` no task is lost, and a task runs
    twice only when the producer sent it again after an unacknowledged enqueue; without it,
    what the old master took after the promotion is lost (the figures are printed)."""
    url = f"{cluster.url}?wait_replicas={wait_replicas}"
    huey = Huey(f"failover-{uuid.uuid4().hex[:6]}", url=url)
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    @huey.task()
    def record(number: int) -> None:
        time.sleep(0.005)  # two workers drain ~400 a second: slower than the producer
        with lock:
            ran[number] += 1

    consumer = Consumer(huey, workers=2, heartbeat_timeout=5)
    consumer.start()
    failover = threading.Thread(target=cluster.failover)
    retried = 0
    total = 3000
    try:
        for number in range(total):
            while not _sent(record, number):
                retried += 1  # the producer's own retry: this may duplicate a task
                time.sleep(0.05)
            if number == total // 3:
                failover.start()
            time.sleep(0.001)  # enqueues go on through the switch
        failover.join(60)
        wait_until(lambda: len(ran) == total, timeout=60)
    finally:
        consumer.stop()
    lost = total - len(ran)
    duplicated = sum(count - 1 for count in ran.values())
    print(
        f"\nfailover, wait_replicas={wait_replicas}: {total} tasks, lost {lost}, "
        f"duplicated {duplicated}, producer retries {retried}"
    )
    if wait_replicas:
        assert lost == 0
        # Beyond the producer's own retries, a task runs again only when its worker's ack
        # found no replica during the switch: at most a few per worker.
        assert duplicated <= retried + 2 * 2


def _sent(task, number: int) -> bool:
    try:
        task(number)
    except (QueueException, redis.RedisError):
        return False
    return True


@pytest.mark.slow
def test_replica_acknowledgement_cost(cluster) -> None:
    """Drain throughput with and without WAIT 1 (docs/deploy/redis-ha.md has the figures)."""
    rates: dict[int, list[int]] = {0: [], 1: []}
    for wait_replicas in (0, 1, 0, 1):
        rates[wait_replicas].append(_drain_rate(f"{cluster.url}?wait_replicas={wait_replicas}"))
    print(f"\ndrain tasks/s: without WAIT {rates[0]}, with WAIT 1 {rates[1]}")


def _drain_rate(url: str, total: int = 3000) -> int:
    """Tasks a second a 4-thread consumer drains from a full queue."""
    huey = Huey(f"cost-{uuid.uuid4().hex[:6]}", url=url)
    done = threading.Semaphore(0)

    @huey.task()
    def noop() -> None:
        done.release()

    for _ in range(total):
        noop()
    consumer = Consumer(huey, workers=4)
    started = time.perf_counter()
    consumer.start()
    assert all(done.acquire(timeout=60) for _ in range(total))
    rate = int(total / (time.perf_counter() - started))
    consumer.stop()
    huey.storage.flush_all()
    return rate


def _tls_server(workdir: Path, port: int, *args: str) -> subprocess.Popen:
    """A TLS-only redis-server (or Sentinel) on loopback with the self-signed cert."""
    command = [_redis_server_binary(), *args, "--port", "0", "--tls-port", str(port)]
    command += ["--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    for option, name in (("cert-file", "cert"), ("key-file", "key"), ("ca-cert-file", "cert")):
        command += [f"--tls-{option}", str(workdir / f"{name}.pem")]
    command += ["--tls-auth-clients", "no"]
    log = open(workdir / f"{port}.log", "ab")  # noqa: SIM115 - the process keeps it
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_rediss_sentinel_speaks_tls_to_the_sentinel_and_the_master(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    master_port, sentinel_port = _free_port(), _free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n")
    servers = [
        _tls_server(tmp_path, master_port),
        _tls_server(tmp_path, sentinel_port, str(conf), "--sentinel", "--tls-replication", "yes"),
    ]
    url = f"rediss+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}/0"
    try:
        trusted = storage_from_url(f"{url}?ssl_ca_certs={tmp_path / 'cert.pem'}", name="tls")
        assert wait_until(lambda: _enqueues(trusted, b"over tls"), timeout=30)
        assert trusted.enqueued_items() == [b"over tls"]
        trusted.close()
        untrusted = storage_from_url(url, name="tls")  # the system CAs never signed it
        with pytest.raises(QueueException, match="No master found"):  # no Sentinel trusted
            untrusted.queue_size()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
