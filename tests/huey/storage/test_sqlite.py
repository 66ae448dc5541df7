"""SQLite-only behaviour: several processes on one file, fork safety, WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from huey.exceptions import StorageError
from huey.storage import SqliteStorage, storage_from_url

from .processes import drain_in_three_processes


def test_processes_sharing_a_file_never_take_one_message_twice(tmp_path: Path) -> None:
    storage = SqliteStorage("shared", filename=str(tmp_path / "huey.db"))
    items = [b"job-%d" % i for i in range(300)]
    storage.enqueue_many(items[:100])  # the parent's connection exists before the fork
    drain_in_three_processes(storage, items, tmp_path)


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    storage = SqliteStorage("x", filename=str(tmp_path / "huey.db"))
    storage.enqueue(b"a")
    with sqlite3.connect(tmp_path / "huey.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_batch_is_invisible_to_other_connections_until_it_ends(tmp_path: Path, in_thread) -> None:
    storage = SqliteStorage("x", filename=str(tmp_path / "huey.db"))
    with storage.batch():
        storage.enqueue(b"a")
        storage.put_data("k", b"v")
        assert in_thread(storage.queue_size).finish() == 0  # another thread, another connection
    assert in_thread(storage.queue_size).finish() == 1


def test_relative_url_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = storage_from_url("sqlite:///sub.db", name="x")
    storage.enqueue(b"a")
    assert (tmp_path / "sub.db").exists()
    storage.close()


def test_a_batch_that_reads_first_still_commits_past_another_writer(
    tmp_path: Path, in_thread
) -> None:
    path = str(tmp_path / "huey.db")
    storage = SqliteStorage("shared", filename=path)
    other = SqliteStorage("shared", filename=path, timeout=0.2)
    storage.put_data("revoked", b"r")
    events = iter(storage)

    def write_elsewhere() -> None:
        try:
            other.put_data("elsewhere", b"x")
        except StorageError:
            pass  # locked out until the batch ends: what a batch that holds the lock means

    with storage.batch():
        assert storage.peek_or_emit(["revoked"], None) == [b"r"]
        in_thread(write_elsewhere).finish()
        storage.emit("written after the read")  # a deferred BEGIN would fail here
    assert in_thread(next, events).finish() == "written after the read"


def test_a_file_from_before_priorities_keeps_its_queue_and_gains_the_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE huey_queue (id INTEGER PRIMARY KEY, name TEXT, data BLOB NOT NULL)")
    old.execute("CREATE INDEX huey_queue_order ON huey_queue (name, id)")
    old.execute("INSERT INTO huey_queue (name, data) VALUES ('old', x'6f6c64')")
    old.close()
    storage = SqliteStorage("old", filename=str(path))
    storage.enqueue(b"new")
    assert storage.enqueued_items() == [b"old", b"new"]
    indexes = {row[1] for row in sqlite3.connect(path).execute("PRAGMA index_list(huey_queue)")}
    assert indexes == {"huey_queue_next"}
