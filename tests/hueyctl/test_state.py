"""The index of recorded deployments: several `hueyctl up` at once lose no entry."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from hueyctl import state
from hueyctl.manifest import load

from .hueyctl_helpers import write_manifest

PROCESSES = 6
PER_PROCESS = 8


def change_index(action: str, paths: list[Path], barrier) -> None:
    manifests = [load(path) for path in paths]
    barrier.wait(10)
    for manifest in manifests:
        getattr(state, action)(manifest)


def at_once(jobs: list[tuple[str, list[Path]]]) -> None:
    """Run each (``record`` or ``forget``, manifests) job in its own process, released together."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(jobs))
    workers = [context.Process(target=change_index, args=(*job, barrier)) for job in jobs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * len(workers)


def recorded_paths() -> set[Path]:
    return set(state.recorded())


def test_concurrent_records_and_forgets_lose_nothing(state_home: Path, tmp_path: Path) -> None:
    groups = [
        [
            write_manifest(
                tmp_path / f"m{p}-{n}.yaml",
                f"""
                version: 1
                project: p{p}-{n}
                instances:
                  a: {{app: "a:huey", storage: "sqlite:///a.db"}}
                """,
            )
            for n in range(PER_PROCESS)
        ]
        for p in range(PROCESSES)
    ]
    at_once([("record", group) for group in groups])
    assert recorded_paths() == {path for group in groups for path in group}

    # Half of each group is forgotten while other processes record the rest again.
    half = PER_PROCESS // 2
    at_once([("forget", g[:half]) for g in groups] + [("record", g[half:]) for g in groups])
    assert recorded_paths() == {path for group in groups for path in group[half:]}
    # No temporary file is left behind.
    assert {p.name for p in state_home.iterdir()} == {state.INDEX_NAME, state.LOCK_NAME}
