"""FileStorage-only behaviour: processes sharing a directory, wake-ups between processes,
the directory layout and its options, and file-system faults."""

from __future__ import annotations

import datetime
import gc
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from huey.exceptions import ConfigurationError, StorageError
from huey.storage import FileStorage, file_wake, storage_from_url

from .processes import drain_in_three_processes

WAIT = 10.0
LATER = datetime.datetime(2030, 1, 1)
fork = multiprocessing.get_context("fork")


def test_processes_sharing_a_directory_never_take_one_message_twice(tmp_path: Path) -> None:
    storage = FileStorage("shared", path=str(tmp_path))
    items = [b"job-%d" % i for i in range(300)]
    storage.enqueue_many(items[:100])  # the parent has its lock and listeners before the fork
    storage.fetch("parent", timeout=0)
    storage.requeue("parent")
    drain_in_three_processes(storage, items, tmp_path)


def _enqueue_later(path: str, delay: float) -> None:
    time.sleep(delay)
    FileStorage("wake", path=path).enqueue(b"from another process")


def test_a_fetch_wakes_on_another_processs_enqueue_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_wake, "RECHECK", 60.0)  # only a wake-up can end the wait early
    storage = FileStorage("wake", path=str(tmp_path))
    producer = fork.Process(target=_enqueue_later, args=(str(tmp_path), 0.2))
    producer.start()
    started = time.monotonic()
    assert storage.fetch("c1", timeout=30) == b"from another process"
    assert time.monotonic() - started < WAIT
    producer.join(WAIT)


def test_a_result_waiter_and_the_scheduler_wake_on_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_thread
) -> None:
    monkeypatch.setattr(file_wake, "RECHECK", 60.0)
    storage = FileStorage("wake", path=str(tmp_path))
    storage.wait_schedule_change(0)  # starts listening
    waiter = in_thread(storage.wait_for_data, "result", 30)

    def write() -> None:
        other = FileStorage("wake", path=str(tmp_path))
        other.put_data("result", b"42")
        other.add_to_schedule(b"later", LATER)

    writer = fork.Process(target=write)
    writer.start()
    writer.join(WAIT)
    assert waiter.finish() is True
    started = time.monotonic()
    storage.wait_schedule_change(30)
    assert time.monotonic() - started < WAIT


def _listen_then_die(path: str, ready: multiprocessing.Event) -> None:
    storage = FileStorage("wake", path=path)
    storage.wait_schedule_change(0)  # leaves its FIFO behind
    ready.set()
    time.sleep(60)


def test_a_killed_listeners_fifo_is_removed_by_the_next_writer(tmp_path: Path) -> None:
    ready = fork.Event()
    listener = fork.Process(target=_listen_then_die, args=(str(tmp_path), ready))
    listener.start()
    assert ready.wait(WAIT)
    channel = tmp_path / "wake" / "wake" / "schedule"
    assert len(os.listdir(channel)) == 1
    os.kill(listener.pid, signal.SIGKILL)
    listener.join(WAIT)
    FileStorage("wake", path=str(tmp_path)).add_to_schedule(b"x", LATER)
    assert os.listdir(channel) == []


def test_a_thread_that_ends_takes_its_fifo_with_it(tmp_path: Path, in_thread) -> None:
    storage = FileStorage("wake", path=str(tmp_path))
    in_thread(storage.wait_for_data, "k", 0.01).finish()
    gc.collect()
    assert os.listdir(tmp_path / "wake" / "wake" / "data") == []


def test_in_flight_work_without_a_heartbeat_is_requeued(tmp_path: Path) -> None:
    storage = FileStorage("orphan", path=str(tmp_path))
    storage.enqueue(b"job")
    storage.fetch("gone", timeout=1)
    (beat,) = (tmp_path / "orphan" / "consumers").iterdir()
    beat.unlink()  # as if removed by hand: the work must not be stuck for good
    assert storage.requeue_expired(cutoff=0.0) == 1
    assert storage.enqueued_items() == [b"job"]


def test_a_message_moves_whole_and_no_temporary_file_is_listed(tmp_path: Path) -> None:
    storage = FileStorage("layout", path=str(tmp_path))
    root = tmp_path / "layout"
    (root / "tmp").mkdir(parents=True)
    (root / "tmp" / "left-by-a-crash").write_bytes(b"half a mess")
    storage.enqueue(b"job")
    assert [path.read_bytes() for path in (root / "queue").iterdir()] == [b"job"]
    assert storage.fetch("c1", timeout=1) == b"job"
    assert os.listdir(root / "queue") == []
    assert storage.inflight_items() == [b"job"]


@pytest.mark.parametrize("levels", [0, 2, 4])
def test_levels_nest_result_files(tmp_path: Path, levels: int) -> None:
    storage = FileStorage("nested", path=str(tmp_path), levels=levels)
    storage.put_data("k", b"v")
    path = Path(storage.path_for_key("k"))
    assert (
        path.exists() and len(path.relative_to(tmp_path / "nested" / "results").parts) == levels + 1
    )
    assert storage.result_items() == {"k": b"v"}


def test_bad_options_are_refused_with_what_to_do(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(ConfigurationError, match="not a directory"):
        FileStorage("x", path=str(not_a_dir))
    with pytest.raises(ConfigurationError, match="0 to 4"):
        FileStorage("x", path=str(tmp_path), levels=5)


def test_construction_creates_nothing(tmp_path: Path) -> None:
    FileStorage("lazy", path=str(tmp_path / "later"))
    assert not (tmp_path / "later").exists()


def test_thread_lock_keeps_threads_apart_without_a_lock_file(tmp_path: Path, race) -> None:
    storage = FileStorage("threads", path=str(tmp_path), use_thread_lock=True)
    storage.enqueue_many([b"m%d" % i for i in range(40)])
    counter = iter(range(100))

    def drain() -> list[bytes]:
        consumer_id, got = f"c{next(counter)}", []
        while (item := storage.fetch(consumer_id, timeout=0.01)) is not None:
            got.append(item)
        return got

    taken = [item for items in race(4, drain) for item in items]
    assert sorted(taken) == sorted(b"m%d" % i for i in range(40))
    assert not (tmp_path / "threads" / ".lock").exists()


def test_a_broken_directory_raises_storage_error_until_repaired(tmp_path: Path) -> None:
    storage = FileStorage("broken", path=str(tmp_path))
    storage.enqueue(b"first")
    queue = tmp_path / "broken" / "queue"
    moved = tmp_path / "saved-queue"
    queue.rename(moved)
    queue.write_text("not a directory")
    with pytest.raises(StorageError) as raised:
        storage.enqueue(b"second")
    assert "Not a directory" in raised.value.backend_message
    with pytest.raises(StorageError):
        storage.fetch("c1", timeout=0.1)
    queue.unlink()
    moved.rename(queue)
    storage.enqueue(b"second")
    assert storage.enqueued_items() == [b"first", b"second"]


def test_huey3_priority_argument_orders_raw_bytes(tmp_path: Path) -> None:
    storage = FileStorage("p", path=str(tmp_path))
    for data, priority in [(b"none", None), (b"high", 9), (b"low", -1), (b"float", 2.7)]:
        storage.enqueue(data, priority)
    assert [storage.dequeue() for _ in range(4)] == [b"high", b"float", b"none", b"low"]
    with pytest.raises(ValueError, match="64 bits"):
        storage.enqueue(b"x", 2**64)


def test_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert storage_from_url(f"file://{tmp_path}/q", name="a").path == f"{tmp_path}/q"
    assert storage_from_url("file:///srv/huey", name="a", levels=1).levels == 1
    monkeypatch.chdir(tmp_path)
    storage = storage_from_url("file:relative/dir", name="a")
    storage.enqueue(b"x")
    assert (tmp_path / "relative" / "dir" / "a" / "queue").is_dir()
    for bad in ("file://host/dir", "file:", "file:///dir?levels=1"):
        with pytest.raises(ConfigurationError, match="file:///"):
            storage_from_url(bad, name="a")


def _listen_in_child(storage: FileStorage) -> None:
    storage.wait_schedule_change(0)  # a fresh listener of its own
    storage.close()  # removes the child's FIFO, never the parent's


def test_a_forked_child_gets_its_own_listeners(tmp_path: Path) -> None:
    storage = FileStorage("forked", path=str(tmp_path))
    storage.wait_schedule_change(0)
    channel = tmp_path / "forked" / "wake" / "schedule"
    (mine,) = os.listdir(channel)
    process = fork.Process(target=_listen_in_child, args=(storage,))
    process.start()
    process.join(WAIT)
    assert process.exitcode == 0
    assert os.listdir(channel) == [mine]
    storage.add_to_schedule(b"x", LATER)
    storage.wait_schedule_change(WAIT)  # still listening: returns on the change
