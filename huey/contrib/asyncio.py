"""Await task results from asyncio code, as huey 3's ``aget_result`` and
``aget_result_group`` do, without blocking the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from huey.exceptions import DataStoreTimeout
from huey.result import TaskResultWrapper


async def aget_result(
    result: TaskResultWrapper,
    backoff: float = 1.15,
    max_delay: float = 1.0,
    preserve: bool = False,
    timeout: float | None = None,
) -> Any:
    """The task's return value once it is stored; a failed task raises TaskException,
    and ResultTimeout (DataStoreTimeout) when ``timeout`` seconds pass first.

    Each wait is a blocking read in a worker thread, bounded by ``max_delay`` so many
    awaits share the loop's thread pool in turn; it wakes as soon as the result is
    stored. A value read by a cancelled await stays on ``result`` for the next get.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = max_delay if deadline is None else min(max_delay, deadline - time.monotonic())
        try:
            return await asyncio.to_thread(
                result.get, True, max(wait, 0), backoff, max_delay, False, preserve
            )
        except DataStoreTimeout:
            if deadline is not None and time.monotonic() >= deadline:
                raise


async def aget_result_group(results: Iterable[TaskResultWrapper], *args: Any, **kwargs: Any):
    """Every result of a group (or any iterable of result handles), in order; arguments
    as :func:`aget_result`."""
    return list(await asyncio.gather(*(aget_result(r, *args, **kwargs) for r in results)))
