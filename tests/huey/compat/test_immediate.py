"""huey 3's immediate mode: which storage it runs on, and the hooks that build storage."""

from __future__ import annotations

import datetime

import pytest

from huey import Huey, MemoryHuey
from huey.storage import BlackHoleStorage, MemoryStorage


class Untouchable(Exception):
    pass


class UntouchableStorage(BlackHoleStorage):
    """Fails every queue and key/value call: proves immediate mode never reached it."""

    def enqueue(self, data):
        raise Untouchable()

    def put_data(self, key, value):
        raise Untouchable()

    def peek_or_emit(self, keys, message):
        raise Untouchable()


class UntouchableHuey(Huey):
    def get_storage(self, **storage_kwargs):
        return UntouchableStorage(self.name)


def test_immediate_mode_never_touches_the_live_storage():
    huey = UntouchableHuey("live", utc=False)

    @huey.task()
    def inc(n):
        return n + 1

    huey.immediate = True
    assert inc(1).get() == 2
    inc.revoke()
    assert inc(2).get() is None and inc.restore()
    eta = datetime.datetime.now() + datetime.timedelta(minutes=1)
    scheduled = inc.schedule((3,), eta=eta)
    assert [t.id for t in huey.read_schedule(eta)] == [scheduled.id]
    huey.immediate = False
    with pytest.raises(Untouchable):
        inc(4)
    huey.immediate = True
    assert inc(5).get() == 6


def test_immediate_use_memory_false_runs_tasks_on_the_live_storage(storage_url):
    huey = Huey("live-immediate", url=storage_url, immediate=True, immediate_use_memory=False)

    @huey.task()
    def inc(n):
        return n + 1

    try:
        result = inc(1)
        assert not isinstance(huey.storage, MemoryStorage) or storage_url.startswith("memory")
        assert huey.result_count() == 1 and result.get() == 2
    finally:
        huey.flush()


def test_each_immediate_period_starts_on_fresh_memory_storage():
    huey = MemoryHuey("fresh", immediate=True)
    first = huey.storage
    huey.immediate = False
    huey.immediate = True
    assert huey.storage is not first and isinstance(huey.get_immediate_storage(), MemoryStorage)
