"""huey 3's preset classes. Every option is a keyword here, so each preset is only a
name for RedisHuey (see docs/huey3.md for what differs)."""

from __future__ import annotations

from .api import RedisHuey


class PriorityRedisHuey(RedisHuey):
    """huey 3's priority queue on Redis; tasks carry their priority, the queue is FIFO."""


class RedisExpireHuey(RedisHuey):
    """huey 3's Redis with expiring results; ``expire_time`` is accepted, results are
    kept until read or flushed (docs/huey3.md)."""


class PriorityRedisExpireHuey(RedisExpireHuey):
    """Both of the above."""
