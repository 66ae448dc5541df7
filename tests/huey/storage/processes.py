"""Several forked processes draining one storage while the parent keeps producing: what
the SQLite and file backends must survive without taking a message twice."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from huey.storage.base import BaseStorage

fork = multiprocessing.get_context("fork")


def _drain(storage: BaseStorage, consumer_id: str, out: Path) -> None:
    """Child process: fetch and ack until the queue stays empty, then write what it took."""
    taken = []
    while (item := storage.fetch(consumer_id, timeout=0.5)) is not None:
        taken.append(item)
        storage.ack(consumer_id, item)
    out.write_bytes(b"\n".join(taken))


def drain_in_three_processes(storage: BaseStorage, items: list[bytes], tmp_path: Path) -> None:
    """Fork three draining children, enqueue ``items`` while they run (the first 100 are
    already queued), and check each item was taken exactly once."""
    outputs = [tmp_path / f"taken-{n}" for n in range(3)]
    children = [
        fork.Process(target=_drain, args=(storage, f"c{n}", out)) for n, out in enumerate(outputs)
    ]
    for child in children:
        child.start()
    for item in items[100:]:  # keep producing while they consume
        storage.enqueue(item)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    taken = [item for out in outputs for item in out.read_bytes().split(b"\n") if item]
    assert sorted(taken) == sorted(items)
    assert storage.queue_size() == storage.inflight_size() == 0
