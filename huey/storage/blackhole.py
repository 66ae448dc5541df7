"""BlackHoleStorage: huey 3's storage that keeps nothing (BlackHoleHuey), to switch task
queueing off, e.g. in a settings file, without touching the app's code."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator, Sequence

from huey.storage.base import BaseStorage


class BlackHoleStorage(BaseStorage):
    """Every write is dropped, every read finds nothing; waits just wait out their timeout."""

    blocking = True

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        pass

    def enqueue_many(self, items: Sequence[bytes]) -> None:
        pass

    def dequeue(self) -> bytes | None:
        return None

    def unqueue(self, data: bytes) -> int:
        return 0

    def queue_size(self) -> int:
        return 0

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        return []

    def flush_queue(self) -> None:
        pass

    def fetch(self, consumer_id: str, timeout: float) -> bytes | None:
        time.sleep(timeout)
        return None

    def fetch_many(self, consumer_id: str, limit: int, timeout: float) -> list[bytes]:
        time.sleep(timeout)
        return []

    def ack(self, consumer_id: str, data: bytes) -> None:
        pass

    def inflight_items(self, consumer_id: str | None = None) -> list[bytes]:
        return []

    def inflight_size(self) -> int:
        return 0

    def heartbeat(self, consumer_id: str, timestamp: float) -> None:
        pass

    def heartbeats(self) -> dict[str, float]:
        return {}

    def requeue(self, consumer_id: str) -> int:
        return 0

    def requeue_expired(self, cutoff: float) -> int:
        return 0

    def add_to_schedule(self, data: bytes, timestamp: datetime.datetime) -> None:
        pass

    def read_schedule(self, timestamp: datetime.datetime) -> list[bytes]:
        return []

    def enqueue_due(self, timestamp: datetime.datetime) -> int:
        return 0

    def next_scheduled_score(self) -> float | None:
        return None

    def wait_schedule_change(self, timeout: float) -> None:
        time.sleep(timeout)

    def schedule_size(self) -> int:
        return 0

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        return []

    def flush_schedule(self) -> None:
        pass

    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        pass

    def peek_data(self, key: str) -> bytes | None:
        return None

    def peek_or_emit(self, keys: Sequence[str], message: str | None) -> list[bytes | None]:
        return [None] * len(keys)

    def pop_data(self, key: str) -> bytes | None:
        return None

    def has_data_for_key(self, key: str) -> bool:
        return False

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return True  # nothing is ever held, so every claim wins

    def wait_for_data(self, key: str, timeout: float) -> bool:
        time.sleep(timeout)
        return False

    def result_store_size(self) -> int:
        return 0

    def result_items(self) -> dict[str, bytes]:
        return {}

    def flush_results(self) -> None:
        pass

    def incr(self, key: str, amount: int = 1) -> int:
        return amount  # a counter that keeps nothing starts from 0 every time

    def delete_counter(self, key: str) -> None:
        pass

    def flush_counters(self) -> None:
        pass

    def put_error(self, metadata: bytes) -> None:
        pass

    def get_errors(self, limit: int | None = None, offset: int = 0) -> list[bytes]:
        return []

    def error_count(self) -> int:
        return 0

    def flush_errors(self) -> None:
        pass

    def emit(self, message: str) -> None:
        pass

    def __iter__(self) -> Iterator[str]:
        """No event ever comes: the iteration ends at once."""
        return iter(())

    def flush_all(self) -> None:
        pass
