"""The ``emails`` instance: short I/O-bound tasks, run by thread workers."""

from __future__ import annotations

import logging
import os

from huey import Huey, crontab

huey = Huey("emails")
log = logging.getLogger(__name__)


@huey.task(retries=2, retry_delay=1)
def send_welcome(address: str) -> str:
    """Pretend to send a welcome mail; the relay comes from the manifest's env."""
    relay = os.environ.get("SMTP_HOST", "localhost")
    log.info("welcome mail to %s via %s", address, relay)
    return f"welcome mail to {address} via {relay}"


@huey.task()
def purge_bounces() -> int:
    """Drop bounced addresses; the manifest schedules it (``schedules:``)."""
    log.info("purged bounces")
    return 0


@huey.periodic_task(crontab(minute="*"))
def send_queued_digests() -> None:
    """A periodic task declared in code: the consumer enqueues it once a minute."""
    log.info("digest run")
