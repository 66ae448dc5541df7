"""One workload, one run, one side: runs inside that side's virtualenv and prints its
figures as one JSON line on stdout.

    BENCH_SIDE=ours BENCH_REDIS_URL=redis://127.0.0.1:7001/0 python side.py drain 20000 4 thread

``run.py`` sets the environment (see bench_app) and calls this once per run; nothing
here knows about the other side except the few places where huey 3's API differs.
"""

from __future__ import annotations

import calendar
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SIDE = os.environ["BENCH_SIDE"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def app():
    import bench_app  # imported late: the floor workload needs no huey at all

    return bench_app


# -- what differs between the two libraries ------------------------------------------
def push_raw(huey, messages: list[bytes]) -> None:
    """Put already-serialized messages on the queue with each side's fastest path."""
    if SIDE == "ours":
        huey.storage.enqueue_many(messages)
    elif hasattr(huey.storage, "queue_key"):  # huey 3 on Redis: one LPUSH, like ours
        huey.storage.conn.lpush(huey.storage.queue_key, *messages)
    else:  # huey 3 on SQLite: one transaction, like ours
        sql = "insert into task (queue, data, priority) values (?, ?, 0)"
        with huey.storage.db(commit=True) as cursor:
            cursor.executemany(sql, [(huey.storage.name, m) for m in messages])


def eta_epoch(result) -> float:
    """The task's execute time (naive UTC on both sides) as epoch seconds."""
    eta = result.task.execute_time if SIDE == "ours" else result.task.eta
    return calendar.timegm(eta.utctimetuple()) + eta.microsecond / 1e6


# -- a consumer process, started with the side's own console script -----------------
class Consumer:
    def __init__(self, workers: int, kind: str = "thread") -> None:
        script = Path(sys.executable).parent / "huey_consumer"
        command = [str(script), "bench_app.huey", "-w", str(workers), "-k", kind, "-q"]
        paths = [str(BENCH_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        self.log = open(os.environ.get("BENCH_LOG", os.devnull), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=BENCH_DIR, env=env, stdout=self.log, stderr=self.log
        )

    def wait_ready(self, huey_app) -> None:
        """Return once a task went through: the workers are running."""
        huey_app.noop().get(blocking=True, timeout=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def cpu_seconds(self) -> float:
        """User + system CPU of the consumer and its reaped children, from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p99": cuts[98]}


# -- workloads ---------------------------------------------------------------------------
def enqueue(count: int) -> dict[str, float]:
    """Tasks/s enqueueing one call at a time, then through the bulk path (``map``)."""
    a = app()
    a.huey.storage.flush_queue()
    start = time.perf_counter()
    for i in range(count):
        a.noop(i)
    one = count / (time.perf_counter() - start)
    a.huey.storage.flush_queue()
    start = time.perf_counter()
    a.noop.map(range(count))  # ours: one pipelined push; huey 3: one enqueue per item
    bulk = count / (time.perf_counter() - start)
    a.huey.storage.flush_queue()
    return {"one": one, "bulk": bulk}


def drain(count: int, workers: int, kind: str) -> dict[str, float]:
    """Tasks/s from a full queue to the last result stored, with a warmed-up consumer."""
    a = app()
    messages = [a.huey.serialize_task(a.noop.s(i)) for i in range(count)]
    poll = 0.005 if os.environ.get("BENCH_BACKEND", "redis") == "redis" else 0.02
    with Consumer(workers, kind) as consumer:
        consumer.wait_ready(a)
        a.huey.storage.flush_results()
        cpu = consumer.cpu_seconds()
        start = time.perf_counter()
        push_raw(a.huey, messages)
        while a.huey.storage.result_store_size() < count:
            time.sleep(poll)
        elapsed = time.perf_counter() - start
        # Only a thread consumer's CPU is all in its own process while it runs.
        cpu_us = (consumer.cpu_seconds() - cpu) / count * 1e6 if kind == "thread" else None
    return {"rate": count / elapsed, "cpu_us": cpu_us}


def roundtrip(count: int, workers: int = 4) -> dict[str, float]:
    """Milliseconds from calling a task to holding its result (blocking get)."""
    a = app()
    with Consumer(workers) as consumer:
        consumer.wait_ready(a)
        for _ in range(20):  # warm connections and code paths on both ends
            a.noop().get(blocking=True, timeout=30)
        samples = []
        for i in range(count):
            start = time.perf_counter()
            a.noop(i).get(blocking=True, timeout=30)
            samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def schedule(count: int, spacing: float = 0.01, workers: int = 4) -> dict[str, float]:
    """Milliseconds between a delay=1 task's execute time and the start of its body."""
    a = app()
    with Consumer(workers) as consumer:
        consumer.wait_ready(a)
        results = []
        for _ in range(count):
            results.append(a.stamp.schedule(delay=1))
            time.sleep(spacing)
        late = [(r.get(blocking=True, timeout=60) - eta_epoch(r)) * 1000 for r in results]
    return percentiles(late)


def idle(seconds: float, workers: int = 8) -> dict[str, float]:
    """CPU (% of one core) and RSS of a consumer with nothing to do."""
    a = app()
    with Consumer(workers) as consumer:
        consumer.wait_ready(a)
        time.sleep(2)  # let start-up work settle
        cpu, start = consumer.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        used = consumer.cpu_seconds() - cpu
        pct = 100 * used / (time.monotonic() - start)
        return {"cpu": pct, "rss": consumer.rss_mb()}


def floor(count: int) -> dict[str, float]:
    """Plain redis-py, one client: what a producer or a single worker could reach at best."""
    import redis

    client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    key = "bench:floor"
    client.delete(key)
    payload = b"x" * 200  # about the size of a pickled task message
    start = time.perf_counter()
    for _ in range(count):
        client.lpush(key, payload)
    lpush = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        client.brpop(key, 1)
    brpop = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        client.lpush(key, payload)
        client.brpop(key, 1)
    pair = count / (time.perf_counter() - start)
    client.delete(key)
    return {"lpush": lpush, "brpop": brpop, "pair": pair}


WORKLOADS = {
    "enqueue": enqueue,
    "drain": drain,
    "roundtrip": roundtrip,
    "schedule": schedule,
    "idle": idle,
    "floor": floor,
}


def main(argv: list[str]) -> None:
    name, *args = argv
    parsed = [int(a) if a.isdigit() else (float(a) if a[0].isdigit() else a) for a in args]
    print(json.dumps(WORKLOADS[name](*parsed)))


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    main(sys.argv[1:])
