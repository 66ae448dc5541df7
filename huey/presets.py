"""huey 3's preset classes. Every backend here keeps priority order and every option
is a keyword, so each preset is only a name for RedisHuey (see docs/huey3.md)."""

from __future__ import annotations

from .api import RedisHuey


class PriorityRedisHuey(RedisHuey):
    """huey 3's priority queue on Redis; RedisHuey already orders by priority."""


class RedisExpireHuey(RedisHuey):
    """huey 3's Redis with expiring results; ``expire_time`` is accepted, results are
    kept until read or flushed (docs/huey3.md)."""


class PriorityRedisExpireHuey(RedisExpireHuey):
    """Both of the above."""
