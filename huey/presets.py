"""huey 3's preset classes. Every option is a keyword here, so each preset is a
RedisHuey with one storage choice (see docs/huey3.md for what differs)."""

from __future__ import annotations

from .api import RedisHuey
from .storage import BaseStorage, PriorityRedisStorage, storage_from_url


class PriorityRedisHuey(RedisHuey):
    """huey 3's priority queue on Redis: higher priorities run first (plain RedisHuey
    keeps the faster first-in, first-out list)."""

    storage_class = PriorityRedisStorage

    def create_storage(self) -> BaseStorage:
        """The priority queue whether a URL or the class names the Redis server."""
        if self._url:
            return storage_from_url(self._url, self.name, priority=True, **self._storage_kwargs)
        return super().create_storage()


class RedisExpireHuey(RedisHuey):
    """huey 3's Redis with expiring results; ``expire_time`` is accepted, results are
    kept until read or flushed (docs/huey3.md)."""


class PriorityRedisExpireHuey(PriorityRedisHuey, RedisExpireHuey):
    """Both of the above."""
