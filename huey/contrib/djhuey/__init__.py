"""Django integration, as huey 3 spells it: ``settings.HUEY`` configures one Huey
(:data:`HUEY`), whose decorators this module exposes; ``manage.py run_huey`` runs its
consumer. Add ``"huey.contrib.djhuey"`` to ``INSTALLED_APPS``.

Importing this module reads the settings, so it needs a configured Django.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

from huey.contrib.djsettings import huey_from_setting, name_from_databases
from huey.wrapper import TaskWrapper

HUEY = huey_from_setting(
    getattr(settings, "HUEY", None),
    debug=settings.DEBUG,
    default_name=name_from_databases(settings.DATABASES),
)

task = HUEY.task
periodic_task = HUEY.periodic_task
lock_task = HUEY.lock_task
enqueue = HUEY.enqueue
revoke = HUEY.revoke
revoke_all = HUEY.revoke_all
revoke_by_id = HUEY.revoke_by_id
restore = HUEY.restore
restore_all = HUEY.restore_all
restore_by_id = HUEY.restore_by_id
is_revoked = HUEY.is_revoked
pre_execute = HUEY.pre_execute
post_execute = HUEY.post_execute
on_startup = HUEY.on_startup
on_shutdown = HUEY.on_shutdown
signal = HUEY.signal
disconnect_signal = HUEY.disconnect_signal


def close_db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Close stale or broken database connections before and after ``fn``, as Django does
    around a request, so a long-lived worker never reuses a connection the server dropped.
    Not in immediate mode: there the task runs inside the caller's connection and transaction."""

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        inline = HUEY.immediate or HUEY.always_eager
        if not inline:
            close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            if not inline:
                close_old_connections()

    return inner


def db_task(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """Like :func:`task`, for a function that queries the database (see :func:`close_db`)."""

    def decorator(fn: Callable[..., Any]) -> TaskWrapper:
        return HUEY.task(*args, **kwargs)(close_db(fn))

    return decorator


def db_periodic_task(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """Like :func:`periodic_task`, for a function that queries the database."""

    def decorator(fn: Callable[..., Any]) -> TaskWrapper:
        return HUEY.periodic_task(*args, **kwargs)(close_db(fn))

    return decorator


def on_commit_task(
    *args: Any, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., None]]:
    """Like :func:`task`, but a call enqueues the task only once the caller's database
    transaction commits (at once when none is open), so a worker never looks for rows the
    caller has not committed. A call returns None: there is no task until the commit; the
    task itself is the returned function's ``task`` attribute."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., None]:
        wrapper = HUEY.task(*args, **kwargs)(fn)

        @functools.wraps(fn)
        def enqueue_on_commit(*call_args: Any, **call_kwargs: Any) -> None:
            transaction.on_commit(functools.partial(wrapper, *call_args, **call_kwargs))

        enqueue_on_commit.task = wrapper  # type: ignore[attr-defined]
        return enqueue_on_commit

    return decorator
