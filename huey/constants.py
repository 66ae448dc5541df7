"""huey 3's constants module: the worker type names and the ``EmptyData`` marker."""

from __future__ import annotations

WORKER_THREAD = "thread"
WORKER_GREENLET = "greenlet"
WORKER_PROCESS = "process"
WORKER_TYPES = (WORKER_THREAD, WORKER_GREENLET, WORKER_PROCESS)


class EmptyData:
    """huey 3's "no value" marker. Importable for huey 3 code, but storage here answers a
    missing key with None, never with this class (docs/huey3.md, departures)."""


__all__ = ["WORKER_GREENLET", "WORKER_PROCESS", "WORKER_THREAD", "WORKER_TYPES", "EmptyData"]
