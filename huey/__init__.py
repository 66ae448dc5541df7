"""huey: a small task queue with at-least-once delivery on Redis, SQLite, files or memory.

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
    RateLimitExceeded,
    ResultTimeout,
    RetryTask,
    SignatureError,
    TaskException,
    TaskLockedException,
    TaskNameTaken,
    TaskTimeout,
)
from .group import ChordResult, chord, group
from .lock import TaskLock
from .presets import (
    BlackHoleHuey,
    FileHuey,
    PriorityRedisExpireHuey,
    PriorityRedisHuey,
    RedisExpireHuey,
)
from .rate_limit import RateLimit
from .result import Result, ResultGroup, TaskResultWrapper
from .task import PeriodicQueueTask, PeriodicTask, QueueTask, Task
from .utils import SKIPPED, Error
from .wrapper import TaskWrapper

__all__ = [
    "BlackHoleHuey",
    "CancelExecution",
    "ChordResult",
    "ConfigurationError",
    "DataStoreTimeout",
    "Error",
    "FileHuey",
    "Huey",
    "HueyException",
    "MemoryHuey",
    "MessageError",
    "PeriodicQueueTask",
    "PeriodicTask",
    "PriorityRedisExpireHuey",
    "PriorityRedisHuey",
    "QueueException",
    "QueueTask",
    "RateLimit",
    "RateLimitExceeded",
    "RedisExpireHuey",
    "RedisHuey",
    "Result",
    "ResultGroup",
    "ResultTimeout",
    "RetryTask",
    "SKIPPED",
    "SignatureError",
    "SqliteHuey",
    "Task",
    "TaskException",
    "TaskLock",
    "TaskLockedException",
    "TaskNameTaken",
    "TaskTimeout",
    "TaskResultWrapper",
    "TaskWrapper",
    "chord",
    "crontab",
    "group",
    "parse_cron",
]
