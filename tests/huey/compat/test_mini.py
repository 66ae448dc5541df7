"""huey 3's MiniHuey: tasks in greenlets of the application's own process, scheduled and
periodic tasks run by a scheduler greenlet; nothing is stored."""

from __future__ import annotations

import datetime

import pytest

gevent = pytest.importorskip("gevent")

from huey import crontab  # noqa: E402
from huey.contrib.mini import MiniHuey  # noqa: E402


@pytest.fixture
def mini():
    huey = MiniHuey("mini", interval=0.05)
    huey.start()
    yield huey
    huey.stop()


def test_calling_a_task_runs_it_and_the_result_gives_its_value_or_error(mini) -> None:
    @mini.task()
    def add(a, b):
        return a + b

    @mini.task()
    def fail():
        raise ValueError("nope")

    assert add(1, 2).get() == 3
    assert add(3, 4)() == 7
    assert add.__name__ == "add"
    with pytest.raises(ValueError, match="nope"):
        fail().get()


def test_schedule_by_delay_or_aware_eta_runs_later(mini) -> None:
    @mini.task()
    def add(a, b):
        return a + b

    by_delay = add.schedule((1, 2), delay=0.2)
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=0.2)
    by_eta = add.schedule((2, 3), eta=eta)
    assert not by_delay.ready()
    assert by_delay.get(timeout=5) == 3
    assert by_eta.get(timeout=5) == 5


def test_schedule_needs_exactly_one_of_delay_and_eta(mini) -> None:
    @mini.task()
    def add(a, b):
        return a + b

    with pytest.raises(ValueError):
        add.schedule((1, 2))
    with pytest.raises(ValueError):
        add.schedule((1, 2), delay=1, eta=datetime.datetime.now())


def test_periodic_tasks_run_once_per_matching_minute_and_a_broken_schedule_is_survived() -> None:
    huey = MiniHuey()
    ran = []

    @huey.periodic_task(crontab(minute="*/5"))
    def every_five():
        ran.append("five")

    @huey.task(lambda now: 1 / 0)
    def broken():
        ran.append("broken")

    start = datetime.datetime(2030, 1, 1, 10, 0, 5)
    huey.tick(start)
    huey.tick(start + datetime.timedelta(seconds=30))  # same minute: not again
    huey.tick(start + datetime.timedelta(minutes=1))  # 10:01 does not match
    huey.tick(start + datetime.timedelta(minutes=5))
    gevent.sleep(0.05)
    assert ran == ["five", "five"]


def test_stop_and_start_again(mini) -> None:
    @mini.task()
    def add(a, b):
        return a + b

    mini.stop()
    pending = add.schedule((1, 2), delay=0.05)
    gevent.sleep(0.2)
    assert not pending.ready()  # no scheduler while stopped
    mini.start()
    assert pending.get(timeout=5) == 3
    with pytest.raises(RuntimeError):
        mini.start()


def test_pool_size_limits_tasks_running_at_once() -> None:
    huey = MiniHuey(pool_size=2)
    running, most = [0], [0]

    @huey.task()
    def work():
        running[0] += 1
        most[0] = max(most[0], running[0])
        gevent.sleep(0.05)
        running[0] -= 1

    results = [work() for _ in range(5)]
    for result in results:
        result.get(timeout=5)
    assert most[0] == 2
