"""storage_from_url: one URL picks one backend."""

from __future__ import annotations

import pytest

from huey.exceptions import ConfigurationError
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage, storage_from_url


@pytest.mark.parametrize(
    "url, backend",
    [
        ("memory://", MemoryStorage),
        ("sqlite:///relative/huey.db", SqliteStorage),
        ("sqlite:////var/lib/huey.db", SqliteStorage),
        ("redis://127.0.0.1:6390/2", RedisStorage),
        ("rediss://user:secret@cache.internal:6380/0", RedisStorage),
        ("unix:///run/redis.sock?db=1", RedisStorage),
    ],
)
def test_the_scheme_picks_the_backend_without_connecting(url: str, backend: type) -> None:
    assert type(storage_from_url(url, name="app")) is backend


def test_sqlite_paths() -> None:
    assert storage_from_url("sqlite:///data/huey.db", name="a").filename == "data/huey.db"
    assert storage_from_url("sqlite:////srv/huey.db", name="a").filename == "/srv/huey.db"


@pytest.mark.parametrize("url", ["sqlite://host/huey.db", "sqlite:///", "sqlite:///a.db?mode=ro"])
def test_malformed_sqlite_urls_say_how_to_write_them(url: str) -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        storage_from_url(url, name="a")


def test_an_unknown_scheme_names_itself_and_the_accepted_ones() -> None:
    with pytest.raises(ConfigurationError, match="'postgres'.*redis://.*sqlite:///.*memory://"):
        storage_from_url("postgres://db/huey", name="a")


def test_options_reach_the_backend() -> None:
    assert storage_from_url("sqlite:///a.db", name="a", timeout=2.5).timeout == 2.5
    with pytest.raises(TypeError):
        storage_from_url("memory://", name="a", no_such_option=1)
