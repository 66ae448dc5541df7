"""ExpiringRedisStorage: the key/value part of the storage contract, with a TTL on every entry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from huey.exceptions import ConfigurationError
from huey.storage import ExpiringRedisStorage

# The key/value and batch tests of the contract, run again here against this fixture.
from tests.huey.storage.test_contract import (  # noqa: F401
    test_a_popped_value_does_not_wake_a_later_waiter,
    test_batch_commits_every_write_at_its_end,
    test_flush_all_empties_everything,
    test_flush_results,
    test_peek_or_emit_announces_only_when_every_key_is_empty,
    test_peek_or_emit_in_a_batch_is_answered_when_the_batch_ends,
    test_put_if_empty_has_exactly_one_winner,
    test_put_peek_pop,
    test_wait_for_data_times_out_or_returns_at_once,
    test_wait_for_data_wakes_every_waiter,
    test_wait_for_data_wakes_when_the_value_arrives,
)

WAIT = 10.0


@pytest.fixture
def storage(redis_server) -> Iterator[ExpiringRedisStorage]:
    redis_server.start()
    redis_server.flushdb()
    store = ExpiringRedisStorage(
        f"test-{uuid.uuid4().hex[:8]}", expire_time=60, url=redis_server.url
    )
    yield store
    store.flush_all()
    store.close()


def test_every_entry_carries_the_expire_time(storage: ExpiringRedisStorage) -> None:
    storage.put_data("result", b"v")
    assert storage.put_if_empty("lock", b"me")
    client = storage._client
    ttls = [client.pttl(key) for key in client.keys(storage._kv_prefix + "*")]
    assert len(ttls) == 2 and all(0 < ttl <= 60_000 for ttl in ttls)
    assert client.exists(storage._results) == 0  # nothing goes to the plain result hash


def test_an_entry_is_gone_after_its_expire_time(redis_server) -> None:
    store = ExpiringRedisStorage(
        f"short-{uuid.uuid4().hex[:8]}", expire_time=0.2, url=redis_server.url
    )
    try:
        store.put_data("k", b"v")
        deadline = time.monotonic() + WAIT
        while store.has_data_for_key("k") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.peek_data("k") is None and store.result_store_size() == 0
        assert store.put_if_empty("k", b"again")  # an expired lock can be taken again
    finally:
        store.flush_all()
        store.close()


def test_expire_time_must_be_positive(redis_server) -> None:
    with pytest.raises(ConfigurationError, match="expire_time"):
        ExpiringRedisStorage("bad", expire_time=0, url=redis_server.url)
