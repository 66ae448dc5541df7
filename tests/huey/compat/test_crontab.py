"""huey 3's crontab additions: strict=, wrap-around ranges, steps over ranges, the
hourly()/daily() shortcuts. The spec's keyword fields and matching are unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from huey import crontab

SUNDAY = datetime(2024, 6, 2)  # a Sunday


def matching_hours(schedule) -> list[int]:
    return [h for h in range(24) if schedule(datetime(2024, 6, 3, h, 0))]


def matching_weekdays(schedule) -> list[int]:
    """0 = Sunday ... 6 = Saturday, over one real week."""
    return [d for d in range(7) if schedule(SUNDAY + timedelta(days=d))]


def test_a_range_with_a_step_keeps_every_nth_value_from_its_start() -> None:
    assert matching_hours(crontab(minute="0", hour="9-17/4", strict=True)) == [9, 13, 17]
    assert crontab(minute="0-30/5").minutes == {0, 5, 10, 15, 20, 25, 30}


def test_a_backward_range_wraps_around_midnight() -> None:
    assert matching_hours(crontab(minute="0", hour="22-2")) == [0, 1, 2, 22, 23]
    # A step counts across the wrap: 22, 0, 2.
    assert matching_hours(crontab(minute="0", hour="22-2/2")) == [0, 2, 22]


@pytest.mark.parametrize(
    ("day_of_week", "expected"),
    [
        ("1-7", [0, 1, 2, 3, 4, 5, 6]),  # Monday to Sunday (7 is Sunday too)
        ("5-1", [0, 1, 5, 6]),  # Friday to Monday, over the weekend
        ("7-2", [0, 1, 2]),  # Sunday to Tuesday
        ("1-7/2", [0, 1, 3, 5]),
        ("7-3/2", [0, 2]),
    ],
)
def test_day_of_week_ranges_wrap_and_seven_is_sunday(day_of_week: str, expected) -> None:
    assert matching_weekdays(crontab(day_of_week=day_of_week, strict=True)) == expected


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("value", ["abc", "*abc", "a-b", "1-c", "0x9", "0-61", "0-30/0"])
def test_values_that_match_nothing_raise_value_error_strict_or_not(value: str, strict) -> None:
    with pytest.raises(ValueError, match="crontab minute"):
        crontab(minute=value, strict=strict)


def test_hourly_and_daily_shortcuts() -> None:
    hourly, daily = crontab.hourly(), crontab.daily()
    assert hourly(datetime(2026, 4, 1, 5, 0)) and not hourly(datetime(2026, 4, 1, 5, 1))
    assert daily(datetime(2026, 4, 2, 0, 0))
    assert not daily(datetime(2026, 4, 1, 1, 0)) and not daily(datetime(2026, 4, 1, 23, 59))
