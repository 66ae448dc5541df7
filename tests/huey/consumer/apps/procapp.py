"""The application that consumer-process tests run: storage and name from the environment."""

import os
import time
from pathlib import Path

from huey import Huey, crontab

huey = Huey(os.environ.get("TEST_HUEY_NAME", "procapp"), url=os.environ["TEST_HUEY_URL"])
MARKS = Path(os.environ.get("TEST_MARKS_DIR", "."))


@huey.task(name="add")
def add(a, b):
    return a + b


@huey.task(name="slow")
def slow(seconds, mark):
    """Marks its start, sleeps, marks its end: tests see where a task was interrupted."""
    (MARKS / f"{mark}.started").write_text(str(os.getpid()))
    time.sleep(seconds)
    (MARKS / f"{mark}.finished").write_text(str(os.getpid()))
    return mark


@huey.task(name="pid")
def pid():
    return os.getpid()


if os.environ.get("TEST_PERIODIC"):

    @huey.periodic_task(crontab(), name="every-minute")
    def every_minute():
        (MARKS / f"tick-{os.getpid()}-{time.time()}").write_text("")
