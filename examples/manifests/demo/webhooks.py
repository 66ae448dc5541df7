"""The ``webhooks`` instance: many slow outbound calls, retried on failure."""

from __future__ import annotations

import logging

from huey import Huey

huey = Huey("webhooks")
log = logging.getLogger(__name__)


@huey.task(retries=3, retry_delay=5)
def deliver(url: str, event: str) -> str:
    """Pretend to POST ``event`` to ``url`` (a real app would use an HTTP client here)."""
    if not url.startswith("https://"):
        raise ValueError(f"refusing to deliver {event} to non-https url {url!r}")
    log.info("delivered %s to %s", event, url)
    return f"{event} -> {url}"
