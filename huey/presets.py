"""huey 3's preset classes: the Redis variants (every option is a keyword here, each is a
RedisHuey with one storage choice), FileHuey and BlackHoleHuey (see docs/huey3.md for what
differs)."""

from __future__ import annotations

from typing import Any

from .api import Huey, RedisHuey
from .storage import BlackHoleStorage, FileStorage, PriorityRedisStorage
from .storage.redis_expire import (
    DEFAULT_EXPIRE_TIME,
    ExpiringRedisStorage,
    PriorityExpiringRedisStorage,
)


class PriorityRedisHuey(RedisHuey):
    """huey 3's priority queue on Redis: higher priorities run first (plain RedisHuey
    keeps the faster first-in, first-out list)."""

    storage_class = PriorityRedisStorage


class RedisExpireHuey(RedisHuey):
    """huey 3's Redis with expiring results: every stored value (results, revocations,
    locks) is deleted ``expire_time`` seconds (default a day) after it is written."""

    storage_class = ExpiringRedisStorage

    def __init__(self, *args: Any, expire_time: float = DEFAULT_EXPIRE_TIME, **kwargs: Any) -> None:
        super().__init__(*args, expire_time=expire_time, **kwargs)


class PriorityRedisExpireHuey(PriorityRedisHuey, RedisExpireHuey):
    """Both of the above."""

    storage_class = PriorityExpiringRedisStorage


class BlackHoleHuey(Huey):
    """huey 3's Huey that keeps nothing: tasks enqueue without error and never run."""

    storage_class = BlackHoleStorage


class FileHuey(Huey):
    """huey 3's Huey on files: ``FileHuey(name, path=dir, levels=2, use_thread_lock=False)``
    keeps its queue, schedule and results under ``dir/name/`` (:class:`FileStorage`)."""

    storage_class = FileStorage
