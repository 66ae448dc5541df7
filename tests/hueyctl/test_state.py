"""The index of recorded deployments: several `hueyctl up` at once lose no entry."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

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
    return {path for path, _state_dir in state.recorded()}


def small_manifest(path: Path) -> Path:
    """A valid one-instance manifest at ``path`` (the project is named after the file)."""
    return write_manifest(
        path,
        f"""
        version: 1
        project: {path.stem}
        instances:
          a: {{app: "a:huey", storage: "sqlite:///a.db"}}
        """,
    )


def test_concurrent_records_and_forgets_lose_nothing(state_home: Path, tmp_path: Path) -> None:
    groups = [
        [small_manifest(tmp_path / f"m{p}-{n}.yaml") for n in range(PER_PROCESS)]
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


def test_each_state_directory_of_a_manifest_is_its_own_deployment(
    hueyctl, state_home: Path, tmp_path: Path
) -> None:
    path = small_manifest(tmp_path / "shop.yaml")
    first, second = tmp_path / "first", tmp_path / "second"
    state.record(load(path, state_dir=first))
    state.record(load(path, state_dir=second))
    assert state.recorded() == [(path, first), (path, second)]

    def projects(*options: object) -> int:
        result = hueyctl("status", "--json", *options)
        assert result.exit_code == 3, result.output  # 3: nothing runs

        return len(json.loads(result.stdout))

    # No manifest given: every recorded deployment, or those in the state dir asked for.
    assert projects() == 2
    assert projects("--state-dir", second) == 1
    # `down` of one (nothing runs there) forgets that one only.
    assert hueyctl("down", "--state-dir", first).exit_code == 0
    assert state.recorded() == [(path, second)]
    missing = hueyctl("status", "--state-dir", first)
    assert missing.exit_code == 2 and f"no deployment recorded by `hueyctl up` in {first}" in (
        missing.stderr
    )


@pytest.mark.parametrize(
    "damage",
    [b"{garbage", b"[1, 2]", b'{"deployments": [1]}', b'{"deployments": [{}]}', b"\xff"],
)
def test_a_damaged_index_fails_in_one_line_naming_it(
    hueyctl, state_home: Path, tmp_path: Path, damage: bytes
) -> None:
    state.record(load(small_manifest(tmp_path / "shop.yaml")))
    index = state_home / state.INDEX_NAME
    index.write_bytes(damage)
    for command in (["status"], ["logs", "a"], ["down"]):
        result = hueyctl(*command)  # raises, failing the test, if it would print a traceback
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr.startswith(f"{index} is damaged (")
        assert result.stderr.count("\n") == 1
        assert "`hueyctl up` each deployment again" in result.stderr


@pytest.mark.parametrize("damage", [b"{garbage", b"[]", b"\xff"])
def test_a_damaged_record_of_what_up_applied_fails_in_one_line_naming_it(
    hueyctl, tmp_path: Path, damage: bytes
) -> None:
    path = small_manifest(tmp_path / "shop.yaml")
    where = state.paths(load(path))
    where.create()
    where.applied.write_bytes(damage)
    # `up` reads it through the same plan when supervisord runs.
    result = hueyctl("plan", path)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"{where.applied} is damaged (")
    assert result.stderr.endswith("remove it; the next `hueyctl up` then restarts every instance\n")
