"""huey 3's huey.utils time helpers: normalize_time, normalize_expire_time, utcnow."""

from __future__ import annotations

import datetime
import time

import pytest

from huey.utils import normalize_expire_time, normalize_time, utcnow

UTC = datetime.timezone.utc
PACIFIC = datetime.timezone(datetime.timedelta(hours=-8))


@pytest.fixture
def pacific_local_time(monkeypatch):
    """This process's local time is US Pacific (UTC-8 in January)."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_utcnow_is_naive_utc() -> None:
    now = utcnow()
    assert now.tzinfo is None
    assert abs(now - datetime.datetime.now(UTC).replace(tzinfo=None)) < datetime.timedelta(5)


@pytest.mark.usefixtures("pacific_local_time")
def test_an_eta_becomes_naive_utc_or_naive_local_time() -> None:
    noon = datetime.datetime(2000, 1, 1, 12)
    eight_pm = datetime.datetime(2000, 1, 1, 20)
    four_am = datetime.datetime(2000, 1, 1, 4)
    # A naive eta is local time: kept for utc=False, converted for utc=True.
    assert normalize_time(noon, utc=False) == noon
    assert normalize_time(noon, utc=True) == eight_pm
    # An aware eta is converted to whichever clock is asked for.
    assert normalize_time(noon.replace(tzinfo=PACIFIC), utc=True) == eight_pm
    assert normalize_time(noon.replace(tzinfo=PACIFIC), utc=False) == noon
    assert normalize_time(noon.replace(tzinfo=UTC), utc=True) == noon
    assert normalize_time(noon.replace(tzinfo=UTC), utc=False) == four_am


@pytest.mark.parametrize("utc", [True, False])
def test_a_delay_counts_from_now_and_zero_means_now(utc: bool) -> None:
    now = utcnow() if utc else datetime.datetime.now()
    for delay, expected in ((0, 0), (datetime.timedelta(0), 0), (60, 60)):
        eta = normalize_time(delay=delay, utc=utc)
        assert abs((eta - now).total_seconds() - expected) < 5
    # expires=0 expires at once; it does not mean "never".
    assert abs((normalize_expire_time(0, utc=utc) - now).total_seconds()) < 5
    tomorrow = now + datetime.timedelta(days=1)
    assert normalize_expire_time(tomorrow, utc=False) == tomorrow


def test_exactly_one_of_eta_and_delay() -> None:
    with pytest.raises(ValueError):
        normalize_time()
    with pytest.raises(ValueError):
        normalize_time(eta=datetime.datetime.now(), delay=5)
    with pytest.raises(ValueError):
        normalize_time(eta="tomorrow")
