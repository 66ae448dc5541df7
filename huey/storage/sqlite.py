"""SqliteStorage: the contract in one SQLite file, shared safely by threads and processes.

WAL mode lets readers run beside the one writer; every read-modify-write holds the write
lock (BEGIN IMMEDIATE) from its first read, so two processes never take the same message.
Waits poll with a short growing sleep, skipping the query while ``PRAGMA data_version``
says no other connection has committed anything.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from huey.exceptions import CorruptEntry, StorageError
from huey.message import priority_of
from huey.storage.base import BaseStorage, as_key, poll_until, to_score
from huey.storage.errors import ErrorMapping

# Every row carries the storage name, so instances with different names share a file.
_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS huey_queue (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS huey_inflight (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, consumer TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS huey_inflight_owner ON huey_inflight (name, consumer, id);
CREATE TABLE IF NOT EXISTS huey_consumers (
    name TEXT NOT NULL, consumer TEXT NOT NULL, heartbeat REAL NOT NULL,
    PRIMARY KEY (name, consumer));
CREATE TABLE IF NOT EXISTS huey_schedule (
    name TEXT NOT NULL, data BLOB NOT NULL, score REAL NOT NULL, PRIMARY KEY (name, data));
CREATE INDEX IF NOT EXISTS huey_schedule_due ON huey_schedule (name, score, data);
CREATE TABLE IF NOT EXISTS huey_schedule_version (
    name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS huey_kv (
    name TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (name, key));
CREATE TABLE IF NOT EXISTS huey_counters (
    name TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, key));
CREATE TABLE IF NOT EXISTS huey_errors (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS huey_errors_order ON huey_errors (name, id);
CREATE TABLE IF NOT EXISTS huey_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS huey_events_order ON huey_events (name, id);
COMMIT;
"""
# Files made before the queue had priorities get the column; then the queue's order index.
_ADD_PRIORITY = "ALTER TABLE huey_queue ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"
_QUEUE_ORDER = (
    "DROP INDEX IF EXISTS huey_queue_order",
    "CREATE INDEX IF NOT EXISTS huey_queue_next ON huey_queue (name, priority DESC, id)",
)
_TABLES = (
    "queue",
    "inflight",
    "consumers",
    "schedule",
    "schedule_version",
    "kv",
    "counters",
    "errors",
    "events",
)
# The queue in the order messages leave it: highest priority first, then oldest.
_NEXT = "FROM huey_queue WHERE name = ? ORDER BY priority DESC, id"
_FIRST_SCORE = "SELECT MIN(score) FROM huey_schedule WHERE name = ?"
_NUMERIC_BEAT = "typeof(heartbeat) IN ('integer', 'real')"
_EVENTS_KEPT = 1000  # listeners further behind than this miss events
_POLL_FIRST_SLEEP = 0.002
_SETUP_LOCK = threading.Lock()  # one thread of a process sets a file up, the others wait


def _storage_error(filename: str, error: sqlite3.Error) -> StorageError:
    """The library's error for any sqlite3 error: the one place SQLite errors are mapped
    (locked past the busy timeout, disk full, read-only file, corrupt file...)."""
    return StorageError(f"SQLite file {filename}: {error}", str(error))


_MAPPING = ErrorMapping(sqlite3.Error, _storage_error, "filename")
_storage_errors = _MAPPING.errors
_mapped = _MAPPING.method


class SqliteStorage(BaseStorage):
    """SQLite storage; ``timeout`` is how long a writer waits for another's lock (seconds).

    huey 3's options: ``cache_mb`` sets SQLite's page cache, ``fsync=True`` syncs every
    commit to disk (power-loss safe, slower); ``strict_fifo`` is accepted, the queue is
    always strictly first in, first out; ``journal_mode`` is accepted, the file is always
    in WAL mode; ``create_tables=False`` leaves the schema to :meth:`initialize_schema`;
    other keywords go to :func:`sqlite3.connect`.
    """

    blocking = False

    def __init__(
        self,
        name: str = "huey",
        filename: str = "huey.db",
        timeout: float = 10.0,
        cache_mb: int | None = None,
        fsync: bool = False,
        strict_fifo: bool = True,
        journal_mode: str = "wal",
        create_tables: bool = True,
        **connect_kwargs: Any,
    ) -> None:
        super().__init__(name)
        self.filename = filename
        self.timeout = timeout
        self._connect_kwargs = connect_kwargs
        self._create_tables = create_tables
        self._pragmas = [f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}"]
        if cache_mb:
            self._pragmas.append(f"PRAGMA cache_size={-1024 * int(cache_mb)}")  # negative: KiB
        self._ready = False  # the file is in WAL mode and has the tables
        self._reset_connections()

    # -- plumbing ---------------------------------------------------------------
    def _reset_connections(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()  # per thread: connection, batch flag, schedule seen

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use and again after a fork."""
        if self._pid != os.getpid():
            self._reset_connections()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: no implicit transactions, we say BEGIN where one is needed.
            conn = sqlite3.connect(
                self.filename, timeout=self.timeout, isolation_level=None, **self._connect_kwargs
            )
            for pragma in self._pragmas:  # NORMAL with WAL: durable across app crashes
                conn.execute(pragma)
            with _SETUP_LOCK:
                if not self._ready:
                    self._set_up(conn, self._create_tables)
                    self._ready = True
            self._local.conn = conn
        return conn

    @_mapped
    def initialize_schema(self) -> None:
        """Create the tables (huey 3's name): for a storage built with ``create_tables=False``."""
        self._set_up(self._connection(), create_tables=True)

    def _set_up(self, conn: sqlite3.Connection, create_tables: bool) -> None:
        """Switch the file to WAL and (unless told not to) create the tables, retrying
        while another process does.

        SQLite answers a journal-mode change that races another one with "database is locked"
        at once, without waiting for the busy timeout.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                if not create_tables:
                    return
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN IMMEDIATE")  # one process adds the column
                columns = [row[1] for row in conn.execute("PRAGMA table_info(huey_queue)")]
                if "priority" not in columns:
                    conn.execute(_ADD_PRIORITY)
                for statement in _QUEUE_ORDER:
                    conn.execute(statement)
                conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _reader(self) -> sqlite3.Connection:
        """The connection for a call that reads; refused inside :meth:`batch`."""
        conn = self._connection()
        if getattr(self._local, "batch", False):
            raise RuntimeError("storage reads are not allowed inside batch(): move them after it")
        return conn

    def _run(self, sql: str, *params: object, in_batch: bool = False) -> sqlite3.Cursor:
        """Execute ``sql`` with this storage's name as the first parameter.

        ``in_batch`` marks a write that may join an open batch; anything else is refused there.
        """
        conn = self._connection() if in_batch else self._reader()
        return conn.execute(sql, (self.name, *params))

    def _scalar(self, sql: str, *params: object) -> Any:
        row = self._run(sql, *params).fetchone()
        return None if row is None else row[0]

    def _column(self, sql: str, *params: object) -> list:
        return [row[0] for row in self._run(sql, *params)]

    @contextlib.contextmanager
    def _atomic(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
        """A transaction; IMMEDIATE holds the write lock from the first read to the commit.
        A failed commit (disk full, locked) rolls back too, so the connection stays usable."""
        conn = self._connection()
        conn.execute(begin)
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back by itself
                conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Several writes as one: inside the open batch's transaction, or in their own."""
        if getattr(self._local, "batch", False):
            yield
        else:
            with self._atomic():
                yield

    def _poll(self, check: Callable[[], bool], timeout: float) -> bool:
        """poll_until ``check``, calling it only when another connection has committed."""
        conn = self._reader()
        seen = None

        def changed_and_check() -> bool:
            nonlocal seen
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version == seen:
                return False
            seen = version
            return check()

        return poll_until(changed_and_check, timeout, interval=_POLL_FIRST_SLEEP)

    # -- queue ------------------------------------------------------------------
    @_mapped
    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        with self._writing():
            self._append([data], priority)

    @_mapped
    def enqueue_many(self, items: Sequence[bytes]) -> None:
        with self._writing():
            self._append(items)

    def _append(self, items: Sequence[bytes], priority: float | None = None) -> None:
        """Insert ``items`` at the tail of ``priority`` or their own priorities (inside the
        caller's transaction)."""
        rows = [
            (self.name, data, priority_of(data) if priority is None else priority) for data in items
        ]
        sql = "INSERT INTO huey_queue (name, data, priority) VALUES (?, ?, ?)"
        self._connection().executemany(sql, rows)

    @_mapped
    def dequeue(self) -> bytes | None:
        taken = self._take(None)
        return taken[0] if taken else None

    def _take(self, consumer_id: str | None, limit: int = 1) -> list[bytes]:
        """Pop the next messages (up to ``limit``), recording them in flight for
        ``consumer_id`` when given. A head entry that is not bytes (a TEXT row written by
        something else) is removed and raised as CorruptEntry, so the queue moves on."""
        if self._scalar("SELECT 1 FROM huey_queue WHERE name = ? LIMIT 1") is None:
            return []  # checked without the write lock: idle pollers never block writers
        with self._atomic():
            rows = self._run(f"SELECT id, data {_NEXT} LIMIT ?", max(limit, 1)).fetchall()
            if not rows:
                return []
            taken = [data for _, data in itertools.takewhile(_is_bytes, rows)]
            removed = rows[: max(len(taken), 1)]  # or the foreign one at the head
            delete = "DELETE FROM huey_queue WHERE id = ?"
            self._connection().executemany(delete, [(row_id,) for row_id, _ in removed])
            if taken and consumer_id is not None:
                insert = "INSERT INTO huey_inflight (name, consumer, data) VALUES (?, ?, ?)"
                conn = self._connection()
                conn.executemany(insert, [(self.name, consumer_id, data) for data in taken])
                register = "INSERT OR IGNORE INTO huey_consumers VALUES (?, ?, ?)"
                self._run(register, consumer_id, time.time())
        if not taken:
            foreign = rows[0][1]
            raise CorruptEntry(
                f"a {type(foreign).__name__} row, not bytes, was at the head of the queue: removed",
                str(foreign).encode(),
            )
        return taken

    @_mapped
    def unqueue(self, data: bytes) -> int:
        return self._run("DELETE FROM huey_queue WHERE name = ? AND data = ?", data).rowcount

    @_mapped
    def queue_size(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM huey_queue WHERE name = ?")

    @_mapped
    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        return self._column(f"SELECT data {_NEXT} LIMIT ?", _limit(limit))

    @_mapped
    def flush_queue(self) -> None:
        self._run("DELETE FROM huey_queue WHERE name = ?")

    # -- in-flight --------------------------------------------------------------
    @_mapped
    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        taken: list[bytes] = []

        def take() -> bool:
            nonlocal taken
            taken = self._take(consumer_id, limit)
            return bool(taken)

        self._poll(take, timeout)
        return taken

    @_mapped
    def ack(self, consumer_id: str, data: bytes) -> None:
        sql = (
            "DELETE FROM huey_inflight WHERE id = (SELECT id FROM huey_inflight"
            " WHERE name = ? AND consumer = ? AND data = ? LIMIT 1)"
        )
        self._run(sql, consumer_id, data, in_batch=True)

    @_mapped
    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        """Messages of one consumer, or of every consumer by consumer id; oldest first."""
        if consumer_id is None:
            return self._column(
                "SELECT data FROM huey_inflight WHERE name = ? ORDER BY consumer, id"
            )
        sql = "SELECT data FROM huey_inflight WHERE name = ? AND consumer = ? ORDER BY id"
        return self._column(sql, consumer_id)

    @_mapped
    def inflight_size(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM huey_inflight WHERE name = ?")

    @_mapped
    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        sql = (
            "INSERT INTO huey_consumers VALUES (?, ?, ?)"
            " ON CONFLICT (name, consumer) DO UPDATE SET heartbeat = excluded.heartbeat"
        )
        self._run(sql, consumer_id, timestamp, in_batch=True)

    @_mapped
    def heartbeats(self) -> dict[str, float]:
        """Beats of the rows a consumer wrote (a text id, a number): others are foreign."""
        return dict(
            self._run(
                "SELECT consumer, heartbeat FROM huey_consumers WHERE name = ?"
                f" AND typeof(consumer) = 'text' AND {_NUMERIC_BEAT}"
            )
        )

    @_mapped
    def requeue(self, consumer_id: str) -> int:
        with self._atomic():
            return self._requeue(consumer_id)

    def _requeue(self, consumer_id: str) -> int:
        """Move one consumer's messages in front of their priority's others, oldest first."""
        owned = "FROM huey_inflight WHERE name = ? AND consumer = ?"
        items = self._column(f"SELECT data {owned} ORDER BY id", consumer_id)
        # Ids below every id in the table sort first; plain inserts keep taking max + 1.
        head = (
            self._connection().execute("SELECT COALESCE(MIN(id), 1) FROM huey_queue").fetchone()[0]
        )
        insert = "INSERT INTO huey_queue (name, id, data, priority) VALUES (?, ?, ?, ?)"
        for position, data in enumerate(items, start=head - len(items)):
            self._run(insert, position, data, priority_of(data))
        self._run(f"DELETE {owned}", consumer_id)
        self._run("DELETE FROM huey_consumers WHERE name = ? AND consumer = ?", consumer_id)
        return len(items)

    @_mapped
    def requeue_expired(self, cutoff: float) -> int:
        # A beat that is not a number was not written by a consumer: it counts as stopped.
        stale = (
            "SELECT consumer FROM huey_consumers"
            f" WHERE name = ? AND (heartbeat < ? OR NOT {_NUMERIC_BEAT})"
        )
        if not self._column(stale, cutoff):
            return 0  # checked without the write lock, like _take
        with self._atomic():
            return sum(self._requeue(consumer_id) for consumer_id in self._column(stale, cutoff))

    # -- schedule ---------------------------------------------------------------
    @_mapped
    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        add = "INSERT OR REPLACE INTO huey_schedule VALUES (?, ?, ?)"
        bump = (
            "INSERT INTO huey_schedule_version VALUES (?, 1)"
            " ON CONFLICT (name) DO UPDATE SET version = version + 1"
        )
        with self._writing():
            self._run(add, data, to_score(timestamp), in_batch=True)
            self._run(bump, in_batch=True)

    @_mapped
    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        due = self._due(timestamp)
        if due is None:
            return []  # checked without the write lock, like _take
        with self._atomic():
            items = self._column(f"SELECT data {due[0]} ORDER BY score, data", due[1])
            self._run(f"DELETE {due[0]}", due[1])
            return items

    @_mapped
    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        due = self._due(timestamp)
        if due is None:
            return 0
        with self._atomic():
            items = self._column(f"SELECT data {due[0]} ORDER BY score, data", due[1])
            self._append(items)
            self._run(f"DELETE {due[0]}", due[1])
            return len(items)

    def _due(self, timestamp: datetime.datetime) -> tuple[str, float | str] | None:
        """The FROM clause and its bound for the schedule rows due at ``timestamp``, or
        None when none is. A score that is not a number (a row written by hand) sorts after
        every number and is due once no number is left, so it reaches the queue, which
        takes it off as a foreign entry, instead of stopping the scheduler for good."""
        first = self._scalar(_FIRST_SCORE)
        if first is None:
            return None
        if not isinstance(first, (int, float)):
            return "FROM huey_schedule WHERE name = ? AND score >= ?", ""  # TEXT and BLOB
        cutoff = to_score(timestamp)
        if first > cutoff:
            return None
        return "FROM huey_schedule WHERE name = ? AND score <= ?", cutoff

    @_mapped
    def next_scheduled_score(self) -> float | None:
        first = self._scalar(_FIRST_SCORE)
        return first if first is None or isinstance(first, (int, float)) else 0.0

    @_mapped
    def wait_schedule_change(self, timeout: float) -> None:
        """Return once something was scheduled since this thread's previous call (at once on
        its first call), or on timeout."""
        version = "SELECT COALESCE(MAX(version), 0) FROM huey_schedule_version WHERE name = ?"
        seen = getattr(self._local, "schedule_seen", None)
        if seen is None:
            self._local.schedule_seen = self._scalar(version)
            return

        def changed() -> bool:
            self._local.schedule_seen = self._scalar(version)
            return self._local.schedule_seen != seen

        self._poll(changed, timeout)

    @_mapped
    def schedule_size(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM huey_schedule WHERE name = ?")

    @_mapped
    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        sql = "SELECT data FROM huey_schedule WHERE name = ? ORDER BY score, data LIMIT ?"
        return self._column(sql, _limit(limit))

    @_mapped
    def flush_schedule(self) -> None:
        self._run("DELETE FROM huey_schedule WHERE name = ?")

    # -- key/value --------------------------------------------------------------
    @_mapped
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        sql = "INSERT OR REPLACE INTO huey_kv VALUES (?, ?, ?)"
        self._run(sql, as_key(key), value, in_batch=True)

    @_mapped
    def peek_data(self, key: str) -> bytes | None:
        return self._scalar("SELECT value FROM huey_kv WHERE name = ? AND key = ?", as_key(key))

    @_mapped
    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT key, value FROM huey_kv WHERE name = ? AND key IN ({marks})"
        # Allowed in a batch: its transaction sees what the block wrote so far.
        found = dict(self._run(sql, *keys, in_batch=True).fetchall())
        values = [found.get(key) for key in keys]
        if message is not None and not found:
            self.emit(message)
        return values

    @_mapped
    def pop_data(self, key: str) -> bytes | None:
        key = as_key(key)
        with self._atomic():
            value = self.peek_data(key)
            self._run("DELETE FROM huey_kv WHERE name = ? AND key = ?", key)
            return value

    @_mapped
    def has_data_for_key(self, key: str) -> bool:
        sql = "SELECT 1 FROM huey_kv WHERE name = ? AND key = ?"
        return self._scalar(sql, as_key(key)) is not None

    @_mapped
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """``ttl`` raises NotImplementedError, as in huey 3's SqliteStorage."""
        if ttl is not None:
            raise NotImplementedError("SqliteStorage keeps values until removed: no ttl")
        sql = "INSERT OR IGNORE INTO huey_kv VALUES (?, ?, ?)"
        return self._run(sql, as_key(key), value).rowcount == 1

    @_mapped
    def wait_for_data(self, key: str, timeout: float) -> bool:
        key = as_key(key)
        return self._poll(lambda: self.has_data_for_key(key), timeout)

    @_mapped
    def result_store_size(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM huey_kv WHERE name = ?")

    @_mapped
    def result_items(self) -> dict[str, bytes]:
        return dict(self._run("SELECT key, value FROM huey_kv WHERE name = ?").fetchall())

    @_mapped
    def flush_results(self) -> None:
        self._run("DELETE FROM huey_kv WHERE name = ?")

    # -- counters ---------------------------------------------------------------
    @_mapped
    def incr(self, key: str, amount: int = 1) -> int:
        sql = (
            "INSERT INTO huey_counters VALUES (?, ?, ?) ON CONFLICT (name, key)"
            " DO UPDATE SET value = value + excluded.value RETURNING value"
        )
        with self._atomic():  # RETURNING's row must be read before the commit
            return self._run(sql, as_key(key), amount).fetchone()[0]

    @_mapped
    def delete_counter(self, key: str) -> None:
        self._run("DELETE FROM huey_counters WHERE name = ? AND key = ?", as_key(key))

    @_mapped
    def flush_counters(self) -> None:
        self._run("DELETE FROM huey_counters WHERE name = ?")

    # -- errors -----------------------------------------------------------------
    @_mapped
    def put_error(self, metadata: bytes) -> None:
        self._run("INSERT INTO huey_errors (name, data) VALUES (?, ?)", metadata, in_batch=True)

    @_mapped
    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        sql = "SELECT data FROM huey_errors WHERE name = ? ORDER BY id DESC LIMIT ? OFFSET ?"
        return self._column(sql, _limit(limit), offset)

    @_mapped
    def error_count(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM huey_errors WHERE name = ?")

    @_mapped
    def flush_errors(self) -> None:
        self._run("DELETE FROM huey_errors WHERE name = ?")

    # -- events -----------------------------------------------------------------
    @_mapped
    def emit(self, message: str) -> None:
        with self._writing():
            sql = "INSERT INTO huey_events (name, message) VALUES (?, ?)"
            event_id = self._run(sql, message, in_batch=True).lastrowid
            if event_id % 100 == 0:  # prune now and then, not on every emit
                prune = "DELETE FROM huey_events WHERE id <= ?"  # every name's old events
                self._connection().execute(prune, (event_id - _EVENTS_KEPT,))

    @_mapped
    def __iter__(self) -> Iterator[str]:
        """Note the newest event now (not at the first ``next``) and yield every later one."""
        newest = "SELECT COALESCE(MAX(id), 0) FROM huey_events WHERE name = ?"
        return self._listen(self._scalar(newest))

    def _listen(self, last: int) -> Iterator[str]:
        sql = "SELECT id, message FROM huey_events WHERE name = ? AND id > ? ORDER BY id"
        rows: list[tuple[int, str]] = []

        def arrived() -> bool:
            nonlocal rows
            rows = self._run(sql, last).fetchall()
            return bool(rows)

        while True:
            with _storage_errors(self.filename):
                found = self._poll(arrived, timeout=60)
            if found:
                last = rows[-1][0]
                yield from (message for _, message in rows)

    # -- housekeeping -----------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Run the block's writes in one transaction (rolled back if the block raises)."""
        if getattr(self._local, "batch", False):
            yield
            return
        # IMMEDIATE, not deferred: a peek_or_emit in the block reads before it writes.
        with _storage_errors(self.filename), self._atomic():
            self._local.batch = True
            try:
                yield
            finally:
                self._local.batch = False

    @_mapped
    def flush_all(self) -> None:
        with self._atomic():
            for table in _TABLES:
                self._run(f"DELETE FROM huey_{table} WHERE name = ?")

    def close(self) -> None:
        """Close this thread's connection (other threads' close when those threads end)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and self._pid == os.getpid():
            conn.close()


def _is_bytes(row: tuple[int, object]) -> bool:
    return isinstance(row[1], bytes)


def _limit(limit: int | None) -> int:
    """SQLite's LIMIT for an optional limit: -1 means none; negative counts as zero."""
    return -1 if limit is None else max(limit, 0)
