"""Helpers for the huey 3 compatibility tests: run queued tasks the huey 3 way."""

from __future__ import annotations

import pytest

from huey import Huey


def run_all(huey: Huey) -> list:
    """Dequeue and execute every queued task (huey 3's dequeue/execute), their values."""
    values = []
    while (task := huey.dequeue()) is not None:
        values.append(huey.execute(task))
    return values


@pytest.fixture
def run_queued():
    return run_all
