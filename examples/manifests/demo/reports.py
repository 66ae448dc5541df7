"""The ``reports`` instance: CPU-bound tasks, a good fit for process workers."""

from __future__ import annotations

import logging

from huey import Huey

huey = Huey("reports")
log = logging.getLogger(__name__)


@huey.task()
def monthly_total(amounts: list[float]) -> float:
    """Sum a month of order amounts, rounded to cents."""
    return round(sum(amounts), 2)


@huey.task()
def nightly_rollup() -> str:
    """Roll up yesterday's figures; the manifest schedules it (``schedules:``)."""
    log.info("nightly rollup done")
    return "rolled up"
