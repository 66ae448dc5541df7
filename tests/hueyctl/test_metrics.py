"""`hueyctl metrics` and `hueyctl check` against a real deployment (supervisord, a real
consumer) on SQLite and on Redis: known tasks run, exactly their numbers read back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from huey.metrics import read_metrics
from hueyctl import bind, deployment
from hueyctl.check import Level, check
from hueyctl.manifest import load
from hueyctl.metrics import Survey, render

from ..waiting import wait_until
from .hueyctl_helpers import write_manifest

APP = '''
"""Tasks with known outcomes for the metrics tests."""
import time
from pathlib import Path

from huey import Huey

huey = Huey("shop")
GATE = Path(__file__).with_name("gate")


@huey.task()
def ok(n):
    return n


@huey.task()
def broken():
    raise ValueError("broken")


@huey.task(retries=2)
def flaky():
    raise ValueError("always")


@huey.task()
def held():
    deadline = time.monotonic() + 60
    while not GATE.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
'''

MANIFEST = """
version: 1
project: metered
instances:
  shop: {{app: "shop_app:huey", storage: "{storage}", workers: 1, heartbeat_timeout: 6,
          startsecs: 1}}
"""


@pytest.fixture(params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, tmp_path: Path, fresh_imports: None) -> Iterator[Path]:
    storage = "sqlite:///shop.db"
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        server.start()
        server.flushdb()
        storage = server.url
    (tmp_path / "shop_app.py").write_text(APP)
    path = write_manifest(tmp_path / "m.yaml", MANIFEST.format(storage=storage))
    yield path
    deployment.down(load(path))


def series(text: str) -> dict[tuple[str, str, str], float]:
    """``(sample name, consumer label, task label)`` -> value, for the one instance exposed."""
    return {
        (sample.name, sample.labels.get("consumer", ""), sample.labels.get("task", "")): (
            sample.value
        )
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "le" not in sample.labels or sample.labels["le"] == "+Inf"
    }


def samples(text: str) -> dict[tuple[str, str], float]:
    """``(sample name, task label)`` -> value summed over the consumer label."""
    total: dict[tuple[str, str], float] = {}
    for (name, _, task), value in series(text).items():
        total[name, task] = total.get((name, task), 0.0) + value
    return total


@pytest.mark.slow
def test_metrics_and_check_read_back_exactly_what_ran(hueyctl, project: Path, tmp_path) -> None:
    huey = bind(project)["shop"]
    from shop_app import broken, flaky, held, ok

    revoked = ok.s(99)
    huey.revoke(revoked)
    huey.enqueue(revoked)
    for n in range(3):
        ok(n)
    broken()
    flaky()
    assert hueyctl("up", project).exit_code == 0

    expected = {
        ("huey_tasks_started_total", ok.name): 3,
        ("huey_tasks_finished_total", ok.name): 3,
        ("huey_tasks_revoked_total", ok.name): 1,
        ("huey_tasks_failed_total", ok.name): 0,
        ("huey_task_duration_seconds_count", ok.name): 3,
        ("huey_tasks_failed_total", broken.name): 1,
        ("huey_tasks_retried_total", broken.name): 0,
        ("huey_tasks_started_total", flaky.name): 3,
        ("huey_tasks_failed_total", flaky.name): 3,
        ("huey_tasks_retried_total", flaky.name): 2,
        ("huey_tasks_finished_total", flaky.name): 0,
        ("huey_instance_running", ""): 1,
        ("huey_storage_up", ""): 1,
        ("huey_consumers_up", ""): 1,
        ("huey_queue_tasks", ""): 0,
        ("huey_in_flight_tasks", ""): 0,
    }

    def read() -> dict:
        result = hueyctl("metrics", project)
        assert result.exit_code == 0, result.output
        return samples(result.stdout)

    assert wait_until(lambda: expected.items() <= read().items(), timeout=60), read()
    library = read_metrics(huey).tasks
    assert (library[ok.name].finished, library[ok.name].revoked) == (3, 1)
    assert (library[flaky.name].failed, library[flaky.name].retried) == (3, 2)
    assert library[broken.name].failed == 1

    healthy = hueyctl("check", project)
    assert healthy.exit_code == 0, healthy.output
    assert healthy.stdout.startswith("HUEY OK: 1 instance(s), 1 consumer(s) heartbeating")

    # One worker held by a task: what is enqueued behind it waits, past the thresholds.
    running = held()
    assert wait_until(lambda: huey.storage.inflight_size() == 1)
    ok(5)
    ok(6)
    time.sleep(1.1)
    warned = hueyctl("check", project, "--max-pending", "1", "--max-age", "1", "--json")
    assert warned.exit_code == Level.WARNING, warned.output
    (report,) = json.loads(warned.stdout)
    assert report["status"] == "WARNING"
    problems = [problem["problem"] for problem in report["problems"]]
    assert problems[0] == "2 tasks pending (more than 1)"
    assert problems[1].startswith("oldest pending task waited")
    (tmp_path / "gate").touch()
    assert running.get(blocking=True, timeout=30) == "released"

    assert hueyctl("down", project).exit_code == 0
    down = hueyctl("check", project)
    assert down.exit_code == Level.CRITICAL, down.output
    assert "CRITICAL metered/shop: consumer is DOWN, not RUNNING" in down.stdout.splitlines()
    assert samples(hueyctl("metrics", project).stdout)[("huey_instance_running", "")] == 0


def test_check_levels_from_a_survey() -> None:
    """Without processes: what check makes of states, silence and thresholds."""
    from huey.metrics import ConsumerMetrics, InstanceMetrics

    def instance(state="RUNNING", beats=(99.0,), queued=0, age=None, note=""):
        consumers = [ConsumerMetrics(f"h:1:{i}", beat) for i, beat in enumerate(beats)]
        metrics = InstanceMetrics("i", 100.0, consumers, {}, queued, 0, 0, age)
        return Survey("p", "i", state, 30.0, None if note else metrics, note)

    assert check([instance()]) == []
    assert check([instance(queued=5, age=9.0)], max_pending=5, max_age=9) == []
    levels = {
        "stale": check([instance(beats=(99.0, 10.0))]),
        "silent": check([instance(beats=())]),
        "fatal": check([instance(state="FATAL")]),
        "storage": check([instance(note="storage refused the connection")]),
        "pending": check([instance(queued=6)], max_pending=5),
    }
    assert {name: [f.level for f in found] for name, found in levels.items()} == {
        "stale": [Level.WARNING],
        "silent": [Level.CRITICAL],
        "fatal": [Level.CRITICAL],
        "storage": [Level.CRITICAL],
        "pending": [Level.WARNING],
    }
    assert str(levels["storage"][0]) == "CRITICAL p/i: storage: storage refused the connection"


def test_render_exposes_cumulative_buckets_per_consumer() -> None:
    from huey.metrics import BUCKETS, ConsumerMetrics, InstanceMetrics, TaskMetrics

    counts = list((0,) * (len(BUCKETS) + 1))
    counts[0], counts[3] = 2, 1
    task = TaskMetrics(finished=3, duration_sum=0.06, duration_buckets=tuple(counts))
    consumer = ConsumerMetrics("h:1:a", 99.0, tasks={"app.job": task})
    metrics = InstanceMetrics("i", 100.0, [consumer], {"app.job": task}, 4, 1, 2, 12.5)
    text = render([Survey("p", "i", "RUNNING", 30.0, metrics)])
    where = 'consumer="h:1:a",instance="i"'
    assert f'huey_tasks_finished_total{{{where},project="p",task="app.job"}} 3.0' in text
    assert (
        f'huey_task_duration_seconds_bucket{{{where},le="0.005",project="p",task="app.job"}} 2.0'
        in text
    )
    assert (
        f'huey_task_duration_seconds_bucket{{{where},le="0.05",project="p",task="app.job"}} 3.0'
        in text
    )
    assert 'huey_oldest_pending_age_seconds{instance="i",project="p"} 12.5' in text
    assert 'huey_queue_tasks{instance="i",project="p"} 4.0' in text


def test_one_consumer_stopping_leaves_the_others_series_unchanged(tmp_path: Path) -> None:
    """Two real consumers of one instance: when one stops, only its own series go away;
    the survivor's counters are exactly as they were, so rate() sees no reset on them."""
    from huey import Huey
    from huey.consumer import Consumer

    huey = Huey("pair", url=f"sqlite:///{tmp_path / 'pair.db'}")
    both = threading.Barrier(2, timeout=60)

    @huey.task()
    def ok(n: int) -> int:
        """Held until both runs have started: each one-worker consumer runs one."""
        both.wait()
        return n

    first, second = (Consumer(huey, workers=1, heartbeat_timeout=3) for _ in range(2))
    try:
        first.start()
        second.start()
        results = [ok(n) for n in range(2)]
        assert sorted(result.get(blocking=True, timeout=60) for result in results) == [0, 1]

        def exposed() -> dict[tuple[str, str, str], float]:
            metrics = read_metrics(huey)
            return series(render([Survey("p", "pair", "RUNNING", 30.0, metrics)]))

        finished = ("huey_tasks_finished_total", first.consumer_id, ok.name)
        also = ("huey_tasks_finished_total", second.consumer_id, ok.name)
        assert wait_until(lambda: {exposed().get(k) for k in (finished, also)} == {1.0}), exposed()
        before = exposed()
        survivor = {key: value for key, value in before.items() if key[1] == second.consumer_id}
        assert before[("huey_consumers_up", "", "")] == 2
        first.stop()
        after = exposed()
        assert not any(key[1] == first.consumer_id for key in after)
        assert {key: value for key, value in after.items() if key[1]} == survivor
        assert after[("huey_consumers_up", "", "")] == 1
    finally:
        first.stop(graceful=False)
        second.stop(graceful=False)
        huey.storage.close()


def test_check_that_cannot_look_is_unknown_not_critical(hueyctl, tmp_path: Path) -> None:
    """A manifest edited with a typo, or no deployment recorded, is UNKNOWN (3): the
    watchdog restarts the deployment only on CRITICAL (2), and that restart would run
    `up` on the broken manifest and take the running consumers down."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nproject: shop\ninstances: {\n")
    for args in ([broken], [broken, "--json"], []):
        result = hueyctl("check", *args)
        assert result.exit_code == Level.UNKNOWN == 3, result.output
        assert "UNKNOWN" in result.stdout
    result = hueyctl("check", broken)
    assert result.stdout.startswith(f"HUEY UNKNOWN: {broken}:"), result.stdout
    (report,) = json.loads(hueyctl("check", broken, "--json").stdout)
    assert report["status"] == "UNKNOWN"
    assert str(broken) in report["problems"][0]["problem"]
