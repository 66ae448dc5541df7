"""settings.HUEY -> Huey and consumer options, for each form huey 3 documents."""

from __future__ import annotations

import pytest

from huey import Huey, RedisHuey
from huey.contrib.djsettings import consumer_settings, huey_from_setting, name_from_databases
from huey.exceptions import ConfigurationError
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage


def test_a_huey_instance_is_used_as_it_is() -> None:
    huey = Huey("mine", url="memory://")
    assert huey_from_setting(huey) is huey


def test_a_dict_with_a_class_url_and_options(tmp_path) -> None:
    huey = huey_from_setting(
        {
            "huey_class": "huey.Huey",
            "name": "shop",
            "results": False,
            "store_none": True,
            "immediate": False,
            "utc": False,
            "url": f"sqlite:///{tmp_path / 'q.db'}",
        }
    )
    assert type(huey) is Huey and huey.name == "shop"
    assert (huey.result_store, huey.store_none, huey.immediate) == (False, True, False)
    assert huey.utc is False and isinstance(huey.storage, SqliteStorage)
    assert huey.storage.filename == str(tmp_path / "q.db")


def test_default_class_is_redis_and_connection_holds_its_keywords(redis_server) -> None:
    connection = {"url": redis_server.url, "read_timeout": 1}  # huey 3's documented keys
    huey = huey_from_setting({"name": "web", "connection": connection})
    assert type(huey) is RedisHuey and isinstance(huey.storage, RedisStorage)

    @huey.task()
    def double(x):
        return 2 * x

    double(4)
    assert [t.data for t in huey.pending()] == [((4,), {})]
    huey.flush()


def test_immediate_follows_debug_on_in_memory_storage(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    debug = huey_from_setting({"url": url}, debug=True)
    assert debug.immediate and isinstance(debug.storage, MemoryStorage)

    @debug.task()
    def add(a, b):
        return a + b

    assert add(1, 2).get() == 3  # huey 3's immediate mode: a result handle, already done
    live = huey_from_setting({"url": url, "immediate": False}, debug=True)
    assert not live.immediate and isinstance(live.storage, SqliteStorage)


def test_no_setting_names_the_queue_after_the_database() -> None:
    name = name_from_databases({"default": {"NAME": "/srv/app.sqlite3"}})
    huey = huey_from_setting(None, default_name=name)
    assert type(huey) is RedisHuey and huey.name == "app.sqlite3"
    assert name_from_databases({"default": {"NAME": "shop"}}) == "shop"
    assert name_from_databases({}) == "huey"


@pytest.mark.parametrize(
    "setting, message",
    [
        (["not", "a", "dict"], "must be a Huey instance or a dict"),
        ({"huey_class": "huey.NoSuchHuey"}, "cannot import 'huey.NoSuchHuey'"),
    ],
)
def test_bad_settings_say_what_is_wrong(setting, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        huey_from_setting(setting)


def test_consumer_settings_keep_options_and_drop_polling_knobs() -> None:
    setting = {
        "consumer": {
            "workers": 4,
            "backoff": 1.2,
            "graceful_signal": "TERM",
            "periodic": 0,
            "extra_locks": "a,b",
        }
    }
    assert consumer_settings(setting) == {"workers": 4, "periodic": 0, "extra_locks": ("a", "b")}
    assert consumer_settings(Huey("x", url="memory://")) == {}
    with pytest.raises(ConfigurationError, match=r"'wrokers'\] is not a consumer option"):
        consumer_settings({"consumer": {"wrokers": 2}})
