"""huey: a small task queue with at-least-once delivery on Redis, SQLite or memory.

``import huey`` reads nothing and connects to nothing; storage is created on first use.
"""

from .api import Huey, MemoryHuey, RedisHuey, SqliteHuey
from .crontab import crontab, parse_cron
from .exceptions import (
    CancelExecution,
    ConfigurationError,
    DataStoreTimeout,
    HueyException,
    MessageError,
    QueueException,
    SignatureError,
    TaskException,
    TaskLockedException,
)
from .lock import TaskLock
from .result import TaskResultWrapper
from .task import PeriodicQueueTask, QueueTask, TaskWrapper

__all__ = [
    "CancelExecution",
    "ConfigurationError",
    "DataStoreTimeout",
    "Huey",
    "HueyException",
    "MemoryHuey",
    "MessageError",
    "PeriodicQueueTask",
    "QueueException",
    "QueueTask",
    "RedisHuey",
    "SignatureError",
    "SqliteHuey",
    "TaskException",
    "TaskLock",
    "TaskLockedException",
    "TaskResultWrapper",
    "TaskWrapper",
    "crontab",
    "parse_cron",
]
