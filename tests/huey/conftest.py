"""Fixtures for library tests: a Huey on each backend, and a consumer running in threads."""

from __future__ import annotations

import uuid

import pytest

from huey import Huey
from huey.consumer import Consumer


@pytest.fixture
def huey(storage_url: str) -> Huey:
    """A Huey on the parametrized backend (memory, sqlite, redis), emptied afterwards."""
    instance = Huey(f"test-{uuid.uuid4().hex[:8]}", url=storage_url)
    yield instance
    instance.flush()
    instance.storage.close()


@pytest.fixture
def consumer(huey: Huey):
    """Start a thread consumer for ``huey`` on demand; stopped at teardown."""
    started: list[Consumer] = []

    def start(**options) -> Consumer:
        options.setdefault("workers", 2)
        options.setdefault("heartbeat_timeout", 3)
        instance = Consumer(huey, **options)
        instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop(graceful=False)
