"""An app written for huey 3, unchanged, run by ``hueyctl up`` with real consumers:
priorities, a chord, signals, ``on_startup`` and a context task, on SQLite and on Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hueyctl import bind, deployment
from hueyctl.manifest import load

from ..waiting import wait_until
from .hueyctl_helpers import write_manifest

pytestmark = pytest.mark.slow

WAIT = 30.0

# Written as a huey 3 user writes it: nothing here knows about hueyctl.
APP = '''
"""A shop written for huey 3."""
import os
from pathlib import Path

from huey import {huey_class}, chord
from huey.signals import SIGNAL_COMPLETE, SIGNAL_EXECUTING

LOG = Path(__file__).with_name("shop3.log")
huey = {huey_class}("shop3")


def note(*words):
    with open(LOG, "a") as f:
        f.write(" ".join(str(w) for w in words) + "\\n")


@huey.on_startup()
def open_connections():
    note("startup", os.getpid())


@huey.signal(SIGNAL_EXECUTING, SIGNAL_COMPLETE)
def audit(signal, task, *args):
    note(signal, task.name.rsplit(".", 1)[-1], *task.args)


@huey.task(context=True)
def whoami(task=None):
    return task.id


@huey.task()
def price(item):
    return {{"apple": 3, "pear": 4, "plum": 5}}[item]


@huey.task()
def total(currency, prices):
    return f"{{sum(prices)}} {{currency}}"


@huey.task(priority=1)
def routine(n):
    return n


@huey.task(priority=9)
def urgent(n):
    return n


def basket(items):
    return chord([price.s(item) for item in items], total.s("EUR"))
'''

MANIFEST = """
version: 1
project: shop3
instances:
  shop: {{app: "shop3:huey", storage: "{storage}", workers: 1, startsecs: 1}}
"""


@pytest.fixture(params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, tmp_path: Path, fresh_imports: None) -> Iterator[Path]:
    storage, huey_class = "sqlite:///shop3.db", "SqliteHuey"
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        server.start()
        server.flushdb()
        storage, huey_class = server.url, "PriorityRedisHuey"
    (tmp_path / "shop3.py").write_text(APP.format(huey_class=huey_class))
    path = write_manifest(tmp_path / "m.yaml", MANIFEST.format(storage=storage))
    yield path
    deployment.down(load(path))


def log_lines(project: Path) -> list[list[str]]:
    log = project.parent / "shop3.log"
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def logged(project: Path, signal: str) -> list[str]:
    """The names of the tasks the app's receiver logged ``signal`` for, in order."""
    return [line[1] for line in log_lines(project) if line[0] == signal]


def test_a_huey3_app_runs_unchanged_under_hueyctl(hueyctl, project: Path) -> None:
    started = hueyctl("up", project, "--json")
    assert started.exit_code == 0, started.output
    (row,) = json.loads(started.stdout)
    assert row["state"] == "RUNNING"
    huey = bind(project)["shop"]
    import shop3

    # A context task gets its own Task; a chord's callback sums its members.
    handle = shop3.whoami()
    assert handle.get(blocking=True, timeout=WAIT) == handle.id
    assert huey.enqueue(shop3.basket(["apple", "pear", "plum"])).get(True, WAIT) == "12 EUR"

    # on_startup ran in the consumer's worker, and the signals reached the app's receiver.
    assert ["startup", str(row["pid"])] in log_lines(project)
    assert wait_until(lambda: "total" in logged(project, "complete"), WAIT)

    # Tasks waiting while the consumer is stopped run by priority once it is back.
    assert hueyctl("stop", "shop").exit_code == 0
    for n in range(3):
        shop3.routine(n)
    last = shop3.urgent(99)
    assert hueyctl("start", "shop").exit_code == 0
    assert last.get(blocking=True, timeout=WAIT) == 99
    assert wait_until(lambda: ["complete", "routine", "2"] in log_lines(project), WAIT)
    ran = [line[1:] for line in log_lines(project) if line[0] == "executing"]
    assert ran[-4:] == [["urgent", "99"], ["routine", "0"], ["routine", "1"], ["routine", "2"]]
