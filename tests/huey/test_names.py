"""Names cannot collide: an instance never reaches another's storage keys, and a task
class written by hand never runs under another class's name."""

from __future__ import annotations

import uuid

import pytest

from huey import Huey, QueueTask
from huey.consumer import Consumer
from huey.exceptions import ConfigurationError
from huey.storage import MemoryStorage, RedisStorage

UNSAFE_NAMES = [
    "",
    " ",
    "shop emails",
    "shop\n",
    "a}b",
    "x}:queue:{y",
    "a{b",
    "a:b",
    "a*",
    "a?",
    "a[b]",
    "a/b",
    "a\\b",
    ".a",
    "-a",
    "é",
    "a" * 101,
]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_a_name_unsafe_for_the_key_layout_is_refused(name):
    with pytest.raises(ConfigurationError, match="is not allowed"):
        Huey(name)
    with pytest.raises(ConfigurationError, match="is not allowed"):
        MemoryStorage(name)


@pytest.mark.parametrize("name", ["huey", "shop-emails", "shop.emails_2", "A1", "_x", "a" * 100])
def test_ordinary_names_are_accepted(name):
    assert Huey(name).name == name


def test_no_instance_reaches_into_another_instances_redis_keys(redis_server):
    redis_server.start()
    base = f"t{uuid.uuid4().hex[:8]}"
    # Keyed "huey:{<base>}:queue:{x}:...", this one lived under the pattern that the
    # flush_all() of instance <base> deletes, and lost its queue to it.
    for name in (f"{base}}}:queue:{{x", f"{base}}}"):
        with pytest.raises(ConfigurationError):
            Huey(name, url=redis_server.url)
        with pytest.raises(ConfigurationError):
            RedisStorage(name, url=redis_server.url)
    neighbours = [
        Huey(name, url=redis_server.url)
        for name in (base, f"{base}-1", f"{base}.1", f"{base}_1", f"{base}1")
    ]
    for huey in neighbours:
        huey.storage.enqueue(b"job")
        huey.storage.put_data("k", b"v")
    neighbours[0].flush()
    assert [h.storage.queue_size() for h in neighbours] == [0, 1, 1, 1, 1]
    assert [h.storage.peek_data("k") for h in neighbours] == [None] + [b"v"] * 4
    for huey in neighbours:
        huey.flush()
        huey.storage.close()


class Add(QueueTask):
    """A task class in the huey 1.x style: no name, its own execute."""

    def execute(self):
        a, b = self.data
        return a + b


class Multiply(QueueTask):
    def execute(self):
        a, b = self.data
        return a * b


def test_hand_written_task_classes_are_named_after_their_module_and_class():
    assert Add.name == f"{__name__}.Add"
    assert Multiply.name == f"{__name__}.Multiply"
    assert QueueTask.name == "huey.task.QueueTask"


def test_a_consumer_runs_each_hand_written_task_with_its_own_execute(huey, consumer):
    added, multiplied = huey.enqueue(Add((2, 3))), huey.enqueue(Multiply((2, 3)))
    consumer()
    assert added.get(blocking=True, timeout=20) == 5
    assert multiplied.get(blocking=True, timeout=20) == 6


def test_a_consumer_that_never_enqueued_them_still_runs_hand_written_tasks(redis_server):
    redis_server.start()
    name = f"t{uuid.uuid4().hex[:8]}"
    producer, worker_side = Huey(name, url=redis_server.url), Huey(name, url=redis_server.url)
    results = [producer.enqueue(Multiply((4, 5))), producer.enqueue(Add((4, 5)))]
    consumer = Consumer(worker_side, workers=2)
    consumer.start()
    try:
        assert [r.get(blocking=True, timeout=20) for r in results] == [20, 9]
    finally:
        consumer.stop(graceful=False)
        producer.flush()
        producer.storage.close()
        worker_side.storage.close()
