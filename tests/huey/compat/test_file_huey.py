"""huey 3's FileHuey (queue, schedule and results in files under ``path``) and
``huey.utils.FileLock``."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from huey import FileHuey
from huey.contrib.djsettings import huey_from_setting
from huey.storage import FileStorage
from huey.utils import FileLock

fork = multiprocessing.get_context("fork")


def test_file_huey_takes_path_levels_and_use_thread_lock(tmp_path: Path, run_queued) -> None:
    huey = FileHuey("files", path=str(tmp_path), levels=1, use_thread_lock=True)
    assert huey.named_storage == f"directory {tmp_path}"  # hueyctl will not move it silently

    @huey.task()
    def add(a, b):
        return a + b

    result = add(1, 2)
    add.schedule((3, 4), delay=60)
    assert isinstance(huey.storage, FileStorage)
    assert (huey.storage.levels, huey.storage.use_thread_lock) == (1, True)
    assert (huey.pending_count(), huey.scheduled_count()) == (1, 1)
    assert run_queued(huey) == [3] and result.get() == 3


def test_django_setting_names_file_huey_with_its_path(tmp_path: Path) -> None:
    setting = {"huey_class": "huey.FileHuey", "name": "site", "path": str(tmp_path)}
    huey = huey_from_setting(setting, debug=False)
    huey.storage.enqueue(b"x")
    assert isinstance(huey, FileHuey) and (tmp_path / "site" / "queue").is_dir()


def test_file_huey_runs_tasks_under_a_consumer_with_priorities(tmp_path: Path) -> None:
    huey = FileHuey("consumed", path=str(tmp_path))
    order: list[str] = []

    @huey.task()
    def record(label):
        order.append(label)
        return label

    results = [record.schedule((label,), priority=p) for label, p in [("low", 1), ("high", 5)]]
    assert [task.args for task in huey.pending()] == [("high",), ("low",)]
    consumer = huey.create_consumer(workers=1)
    consumer.start()
    try:
        assert [r.get(blocking=True, timeout=10) for r in results] == ["low", "high"]
    finally:
        consumer.stop()
    assert order == ["high", "low"]


# -- FileLock ---------------------------------------------------------------------------
def _hold(filename: str, seconds: float, started) -> None:
    with FileLock(filename):
        started.set()
        time.sleep(seconds)


def test_file_lock_excludes_another_process(tmp_path: Path) -> None:
    filename = str(tmp_path / "locks" / ".lock")  # the directory is created
    started = fork.Event()
    holder = fork.Process(target=_hold, args=(filename, 0.5, started))
    holder.start()
    assert started.wait(10)
    began = time.monotonic()
    with FileLock(filename):
        waited = time.monotonic() - began
    holder.join(10)
    assert waited > 0.2


def test_file_lock_excludes_other_threads_of_one_process(tmp_path: Path, race) -> None:
    lock = FileLock(str(tmp_path / ".lock"))
    inside: list[int] = []
    overlaps: list[int] = []

    def enter() -> None:
        for _ in range(20):
            with lock:
                inside.append(1)
                overlaps.append(len(inside))
                inside.pop()

    race(4, enter)
    assert max(overlaps) == 1 and len(overlaps) == 80


def test_a_second_file_lock_keeps_the_held_file(tmp_path: Path) -> None:
    filename = str(tmp_path / ".lock")
    first = FileLock(filename)
    first.acquire()
    try:
        inode = os.stat(filename).st_ino
        FileLock(filename)  # another instance starting up
        assert os.stat(filename).st_ino == inode
    finally:
        first.release()
    first.release()  # releasing an unheld lock does nothing
