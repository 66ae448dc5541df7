"""The benchmark's own logic: ratios point the right way, targets are judged on the right
figure, and a mistyped workload is refused before anything starts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def table_for(samples: dict) -> dict[str, list[str]]:
    """The printed table for ``samples``, as cells by row label."""
    run = load("run")
    bench = run.Bench({}, None, run.Counts(), Path("log"), samples=samples)
    lines = run.table(bench, {}).splitlines()[2:]
    return {cells[0]: cells[1:] for cells in (line.strip("| ").split(" | ") for line in lines)}


def test_ratios_above_one_mean_ours_is_better_for_rates_and_latencies() -> None:
    rows = table_for(
        {
            "drain-4t": {"ours": [{"rate": 3000.0}], "huey": [{"rate": 1000.0}]},
            "roundtrip": {"ours": [{"p50": 1.0, "p99": 6.0}], "huey": [{"p50": 50.0, "p99": 60.0}]},
        }
    )
    assert rows["drain, 4 threads"] == ["tasks/s", "3,000", "1,000", "3.00x", ">= 2x", "yes"]
    assert rows["round trip p50"] == ["ms", "1", "50", "50.00x", "<= 2 ms", "yes"]
    # A latency target is on our own figure, whatever the ratio.
    assert rows["round trip p99"] == ["ms", "6", "60", "10.00x", "<= 5 ms", "**no**"]


def test_each_figure_is_the_median_of_its_runs() -> None:
    runs = [{"one": 100.0, "bulk": 1.0}, {"one": 300.0, "bulk": 1.0}, {"one": 200.0, "bulk": 1.0}]
    rows = table_for({"enqueue": {"ours": runs, "huey": [{"one": 100.0, "bulk": 1.0}]}})
    assert rows["enqueue, one by one"][1:4] == ["200", "100", "2.00x"]


def test_percentiles_of_a_workload(monkeypatch) -> None:
    monkeypatch.setenv("BENCH_SIDE", "ours")
    side = load("side")
    assert side.percentiles([float(n) for n in range(1, 101)]) == {"p50": 50.5, "p99": 99.01}


def test_an_unknown_workload_is_refused_before_anything_starts() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--only", "drian"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "unknown workload(s) drian" in done.stderr
