"""The task app both sides run: the same two tasks on our huey or on huey 3.x.

Both packages import as ``huey``; the benchmark runs each side in its own virtualenv
and picks storage through environment variables:

- ``BENCH_SIDE``: ``ours`` or ``huey``
- ``BENCH_BACKEND``: ``redis`` (with ``BENCH_REDIS_URL``) or ``sqlite`` (with ``BENCH_SQLITE``)
- ``BENCH_NAME``: the instance name (the queue's key prefix)
"""

from __future__ import annotations

import os
import time

import huey as huey_package

SIDE = os.environ["BENCH_SIDE"]
BACKEND = os.environ.get("BENCH_BACKEND", "redis")
NAME = os.environ.get("BENCH_NAME", "bench")


def _make_huey():
    if BACKEND == "redis":
        # Same keyword on both sides: a redis:// URL, every other setting at its default.
        return huey_package.RedisHuey(NAME, url=os.environ["BENCH_REDIS_URL"])
    return huey_package.SqliteHuey(NAME, filename=os.environ["BENCH_SQLITE"])


huey = _make_huey()


@huey.task()
def noop(n=0):
    """Does nothing; returns True so that both sides store a result (None is not stored)."""
    return True


@huey.task()
def stamp():
    """Returns the wall-clock time at which its body started (for schedule lateness)."""
    return time.time()
