"""A small app written the huey 3 way, run by a real consumer on every backend."""

from __future__ import annotations

import datetime
import threading

from huey import RetryTask, crontab
from huey import signals as S
from tests.waiting import wait_until

WAIT = 30.0


def build_app(huey):
    """The app: context tasks, a RetryTask poll, an error callback, signals, worker hooks."""
    app = {"workers": set(), "signals": [], "errors": [], "polls": 0}
    lock = threading.Lock()

    @huey.on_startup()
    def connect():
        with lock:
            app["workers"].add(threading.current_thread().name)

    @huey.signal(S.SIGNAL_COMPLETE, S.SIGNAL_ERROR, S.SIGNAL_RETRYING)
    def audit(signal, task, *exc):
        with lock:
            app["signals"].append((signal, task.name.rsplit(".", 1)[-1]))

    @huey.task(context=True, priority=5)
    def whoami(task=None):
        return (task.id, task.priority)

    @huey.task()
    def poll():
        with lock:
            app["polls"] += 1
            first = app["polls"] == 1
        if first:
            raise RetryTask(delay=0.05)
        return "ready"

    @huey.task()
    def charge(amount):
        if amount < 0:
            raise ValueError("refund through refund()")
        return amount

    @huey.task()
    def alert(error, who):
        with lock:
            app["errors"].append((type(error).__name__, who))

    @huey.periodic_task(crontab(minute="*"))
    def heartbeat():
        return "beat"

    app.update(whoami=whoami, poll=poll, charge=charge, alert=alert)
    return app


def test_a_huey3_app_runs_under_a_consumer(huey, consumer):
    app = build_app(huey)
    consumer(workers=2)
    me = app["whoami"]()
    assert me.get(blocking=True, timeout=WAIT) == (me.id, 5)
    assert app["poll"]().get(blocking=True, timeout=WAIT) == "ready"
    group = app["charge"].map([1, 2, 3])
    assert group.get(blocking=True, timeout=WAIT) == [1, 2, 3]
    huey.enqueue(app["charge"].s(-1).error(app["alert"], who="ops"))
    assert wait_until(lambda: app["errors"] == [("ValueError", "ops")], WAIT)
    assert wait_until(lambda: len(app["workers"]) == 2, WAIT)
    assert ("retrying", "poll") in app["signals"] and ("error", "charge") in app["signals"]
    assert app["signals"].count(("complete", "charge")) == 3
    (beat,) = huey.read_periodic(datetime.datetime(2030, 1, 1, 0, 0))
    assert beat.name.endswith("heartbeat")
