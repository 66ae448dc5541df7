"""huey 3's contrib helpers: a counting semaphore on Redis, and a task decorator that lets
at most N runs of a task (or of every task sharing a name) hold it at once."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey.exceptions import ConfigurationError, TaskLockedException
from huey.storage import RedisStorage

if TYPE_CHECKING:
    import redis

    from huey.api import Huey

_LUA_DIR = Path(__file__).parent / "lua"
#: How long a holder keeps its place without renewing it, by default (as huey 3).
DEFAULT_TIMEOUT = 300.0

__all__ = ["RedisSemaphore", "lock_task_semaphore"]


class RedisSemaphore:
    """Up to ``value`` holders at once, each known by a name; a holder that neither renews
    nor releases its place within ``timeout`` seconds loses it (a crashed worker's place
    frees itself). Needs a Redis storage; with another, the first use raises
    ConfigurationError. The key lives under the instance's own keys, so ``flush()``
    clears it."""

    def __init__(self, huey: Huey, name: str, value: int = 1, timeout: float | None = None):
        self.huey = huey
        self.name = name
        self.value = value
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._scripts: dict[str, Any] = {}

    def _storage(self) -> RedisStorage:
        storage = self.huey.storage
        if not isinstance(storage, RedisStorage):
            raise ConfigurationError(
                f"RedisSemaphore {self.name!r} needs a Redis storage, not"
                f" {type(storage).__name__}: use RedisHuey or a redis:// URL"
            )
        return storage

    @property
    def conn(self) -> redis.Redis:
        """The Redis client of the Huey's storage."""
        return self._storage().conn

    @property
    def key(self) -> str:
        """The sorted set holding the holders, among the instance's own keys."""
        return self._storage().app_key(f"semaphore:{self.name}")

    def _run(self, script: str, *args: object) -> int:
        conn = self.conn
        if script not in self._scripts:
            source = (_LUA_DIR / f"semaphore_{script}.lua").read_text()
            self._scripts[script] = conn.register_script(source)
        return self._scripts[script](keys=[self.key], args=list(args), client=conn)

    def acquire(self, name: str | None = None) -> str | None:
        """Take a place as ``name`` (a new random name by default); the name on success
        (also when ``name`` already holds one), None when every place is taken."""
        name = name or str(uuid.uuid4())
        return name if self._run("acquire", self.timeout, self.value, name) else None

    def renew(self, name: str) -> bool:
        """Restart ``name``'s timeout; False if it no longer holds a place."""
        return bool(self._run("renew", name, self.timeout))

    def release(self, name: str) -> int:
        """Give up ``name``'s place: 1 if it held one, else 0."""
        return self.conn.zrem(self.key, name)

    def renew_until(self, name: str, stop: threading.Event) -> None:
        """Renew ``name`` every third of the timeout until ``stop`` is set."""
        while not stop.wait(self.timeout / 3.0):
            self.renew(name)


def lock_task_semaphore(
    huey: Huey, lock_name: str, value: int = 1, timeout: float | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator (under ``@huey.task()``): at most ``value`` runs hold ``lock_name`` at once;
    another run raises TaskLockedException, which the worker treats as a locked task (as
    ``lock_task``). The place is renewed while the task runs, so ``timeout`` (default 300 s)
    only bounds how long a dead worker's place stays taken."""
    semaphore = RedisSemaphore(huey, lock_name, value, timeout)

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            holder = semaphore.acquire()
            if holder is None:
                raise TaskLockedException(f"unable to acquire lock {lock_name}")
            stop = threading.Event()
            renewer = threading.Thread(
                target=semaphore.renew_until, args=(holder, stop), daemon=True
            )
            renewer.start()
            try:
                return fn(*args, **kwargs)
            finally:
                stop.set()
                renewer.join()
                semaphore.release(holder)

        return inner

    return decorator
