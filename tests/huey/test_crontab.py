"""crontab() and parse_cron(): what a schedule matches, what it rejects, when it next runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from huey.crontab import Crontab, crontab, parse_cron

# 2024-01-07 is a Sunday; the week 2024-01-07 .. 2024-01-13 runs Sunday .. Saturday.
SUNDAY = datetime(2024, 1, 7, 12, 0)


def days_of_week_matched(schedule: Crontab) -> list[int]:
    """Cron weekday numbers (0 = Sunday) the schedule matches in a real calendar week."""
    return [n for n in range(7) if schedule(SUNDAY + timedelta(days=n))]


# --- the spec's examples ---------------------------------------------------------------


def test_every_five_minutes_matches_multiples_of_five_only():
    every_five = crontab(minute="*/5")
    assert every_five(datetime(2024, 5, 1, 12, 0))
    assert every_five(datetime(2024, 5, 1, 12, 5))
    assert every_five(datetime(2024, 5, 1, 23, 55))
    assert not every_five(datetime(2024, 5, 1, 12, 3))


def test_daily_at_three_matches_three_oclock_only():
    backup = crontab(minute="0", hour="3")
    assert backup(datetime(2024, 5, 1, 3, 0))
    assert not backup(datetime(2024, 5, 1, 3, 1))
    assert not backup(datetime(2024, 5, 1, 15, 0))


def test_every_four_hours_is_the_spec_list():
    assert crontab(hour="*/4").hours == {0, 4, 8, 12, 16, 20}


def test_defaults_match_every_minute():
    every_minute = crontab()
    start = datetime(2024, 2, 28, 22, 0)
    assert all(every_minute(start + timedelta(minutes=n)) for n in range(0, 60 * 30, 7))


def test_seconds_and_microseconds_are_ignored():
    assert crontab(minute="30")(datetime(2024, 5, 1, 8, 30, 59, 999999))


# --- input forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "attribute", "expected"),
    [
        ({"minute": "*"}, "minutes", set(range(60))),
        ({"minute": 0}, "minutes", {0}),
        ({"minute": "7"}, "minutes", {7}),
        ({"minute": "07"}, "minutes", {7}),
        ({"minute": "*/15"}, "minutes", {0, 15, 30, 45}),
        ({"minute": "10-14"}, "minutes", {10, 11, 12, 13, 14}),
        ({"minute": "0,30"}, "minutes", {0, 30}),
        ({"minute": "0, 30"}, "minutes", {0, 30}),
        ({"minute": "10-30/10"}, "minutes", {10, 20, 30}),
        ({"minute": "50/5"}, "minutes", {50, 55}),
        ({"minute": "1-5,10,*/15"}, "minutes", {0, 1, 2, 3, 4, 5, 10, 15, 30, 45}),
        ({"hour": 23}, "hours", {23}),
        ({"hour": "9-17"}, "hours", set(range(9, 18))),
        ({"day": "*"}, "days", set(range(1, 32))),
        ({"day": "1,15"}, "days", {1, 15}),
        ({"day": "*/10"}, "days", {1, 11, 21, 31}),
        ({"month": "*"}, "months", set(range(1, 13))),
        ({"month": "*/3"}, "months", {1, 4, 7, 10}),
        ({"month": 12}, "months", {12}),
        ({"day_of_week": "*"}, "days_of_week", set(range(7))),
        ({"day_of_week": "1-5"}, "days_of_week", {1, 2, 3, 4, 5}),
        ({"day_of_week": "*/2"}, "days_of_week", {0, 2, 4, 6}),
        ({"day_of_week": 7}, "days_of_week", {0}),
        ({"day_of_week": "5-7"}, "days_of_week", {5, 6, 0}),
        ({"day_of_week": "0,7"}, "days_of_week", {0}),
    ],
)
def test_field_forms_parse_to_the_allowed_values(kwargs, attribute, expected):
    assert getattr(crontab(**kwargs), attribute) == expected


def test_day_of_week_zero_is_sunday_on_real_dates():
    assert days_of_week_matched(crontab(day_of_week="0")) == [0]
    assert days_of_week_matched(crontab(day_of_week="7")) == [0]
    assert days_of_week_matched(crontab(day_of_week="6")) == [6]
    assert days_of_week_matched(crontab(day_of_week="1-5")) == [1, 2, 3, 4, 5]
    assert SUNDAY.strftime("%A") == "Sunday"
    assert not crontab(day_of_week="1")(SUNDAY)  # 1 is Monday, not Python's Tuesday


def test_every_field_must_match():
    schedule = crontab(month="6", day="15", hour="12", minute="30")
    assert schedule(datetime(2024, 6, 15, 12, 30))
    assert not schedule(datetime(2024, 7, 15, 12, 30))
    assert not schedule(datetime(2024, 6, 16, 12, 30))
    assert not schedule(datetime(2024, 6, 15, 13, 30))


def test_day_and_day_of_week_together_mean_both():
    friday_13th = parse_cron("0 0 13 * 5")
    assert friday_13th(datetime(2024, 9, 13))  # a Friday
    assert not friday_13th(datetime(2024, 8, 13))  # a Tuesday
    assert not friday_13th(datetime(2024, 9, 6))  # a Friday, the 6th


# --- rejected input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day_of_week", 0, 7)],
)
@pytest.mark.parametrize("as_int", [False, True])
def test_out_of_range_values_name_field_and_value(field, low, high, as_int):
    for bad in (low - 1, high + 1):
        value = bad if as_int else str(bad)
        with pytest.raises(ValueError) as raised:
            crontab(**{field: value})
        if bad >= 0 or as_int:
            assert str(raised.value) == f"crontab {field}: '{bad}' is outside {low}-{high}"
        else:
            assert str(raised.value).startswith(f"crontab {field}: '{bad}' is malformed")


def test_range_ends_are_checked_too():
    with pytest.raises(ValueError, match=r"^crontab minute: '61' is outside 0-59$"):
        crontab(minute="30-61")
    with pytest.raises(ValueError, match=r"^crontab hour: '24' is outside 0-23$"):
        crontab(hour="1,24")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "'abc' is malformed"),
        ("", "'' is malformed"),
        ("1-", "'1-' is malformed"),
        ("1,,2", "'' is malformed"),
        ("**", "'**' is malformed"),
        ("1.5", "'1.5' is malformed"),
        ("*/", "'*/' is malformed"),
        ("*-5", "'*-5' is malformed"),
        ("*/0", "'*/0' has a step of 0"),
        (None, "None is not a str or int"),
        (True, "True is not a str or int"),
        (1.5, "1.5 is not a str or int"),
    ],
)
def test_malformed_values_name_field_and_value(value, problem):
    with pytest.raises(ValueError) as raised:
        crontab(minute=value)
    assert str(raised.value).startswith(f"crontab minute: {problem}")


# --- the matcher object -----------------------------------------------------------------


def test_repr_shows_the_schedule_in_cron_order():
    assert repr(crontab(minute="*/5", hour=3)) == "<Crontab '*/5 3 * * *'>"
    assert repr(parse_cron("@daily")) == "<Crontab '0 0 * * *'>"


def test_matchers_compare_by_what_they_match():
    assert crontab(minute="0,30") == crontab(minute="*/30")
    assert crontab(day_of_week=7) == crontab(day_of_week=0)
    assert crontab(minute=1) != crontab(minute=2)
    assert len({crontab(minute="0,30"), crontab(minute="*/30")}) == 1


def test_matcher_is_frozen():
    with pytest.raises(AttributeError):
        crontab().minutes = frozenset({1})  # type: ignore[misc]


# --- parse_cron -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "equivalent"),
    [
        ("* * * * *", crontab()),
        ("0 3 * * *", crontab(minute="0", hour="3")),
        ("*/5 * * * 1-5", crontab(minute="*/5", day_of_week="1-5")),
        ("15,45 9-17 1 */2 0", crontab("*/2", "1", "0", "9-17", "15,45")),
        ("  0   3 * *  *  ", crontab(minute=0, hour=3)),
        ("@hourly", crontab(minute=0)),
        ("@daily", crontab(minute=0, hour=0)),
        ("@midnight", crontab(minute=0, hour=0)),
        ("@weekly", crontab(minute=0, hour=0, day_of_week=0)),
        ("@monthly", crontab(minute=0, hour=0, day=1)),
        ("@yearly", crontab(minute=0, hour=0, day=1, month=1)),
        ("@annually", crontab(minute=0, hour=0, day=1, month=1)),
    ],
)
def test_parse_cron_equals_crontab(expression, equivalent):
    assert parse_cron(expression) == equivalent


@pytest.mark.parametrize("expression", ["", "0 3 * *", "0 3 * * * *", "@reboot", "@daily 5"])
def test_parse_cron_wrong_field_count(expression):
    with pytest.raises(ValueError, match="expected 5 fields"):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("60 * * * *", "cron '60 * * * *' minute: '60' is outside 0-59"),
        ("0 24 * * *", "cron '0 24 * * *' hour: '24' is outside 0-23"),
        ("0 0 32 * *", "cron '0 0 32 * *' day: '32' is outside 1-31"),
        ("0 0 * 0 *", "cron '0 0 * 0 *' month: '0' is outside 1-12"),
        ("0 0 * * 8", "cron '0 0 * * 8' day_of_week: '8' is outside 0-7"),
        ("0 0 * * mon", "cron '0 0 * * mon' day_of_week: 'mon' is malformed"),
    ],
)
def test_parse_cron_bad_field_is_named(expression, message):
    with pytest.raises(ValueError) as raised:
        parse_cron(expression)
    assert str(raised.value).startswith(message)


# --- next_match -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (crontab(), datetime(2024, 5, 1, 12, 0), datetime(2024, 5, 1, 12, 1)),
        (crontab(), datetime(2024, 5, 1, 12, 0, 59, 999), datetime(2024, 5, 1, 12, 1)),
        (crontab(minute="*/5"), datetime(2024, 5, 1, 12, 5), datetime(2024, 5, 1, 12, 10)),
        (crontab(minute="*/5"), datetime(2024, 5, 1, 12, 57), datetime(2024, 5, 1, 13, 0)),
        (crontab(minute=0, hour=3), datetime(2024, 5, 1, 3, 0), datetime(2024, 5, 2, 3, 0)),
        (crontab(minute=0, hour=3), datetime(2024, 5, 1, 2, 59), datetime(2024, 5, 1, 3, 0)),
        (parse_cron("@daily"), datetime(2024, 1, 31, 23, 59), datetime(2024, 2, 1, 0, 0)),
        (parse_cron("@monthly"), datetime(2024, 2, 1, 0, 0), datetime(2024, 3, 1, 0, 0)),
        (parse_cron("@yearly"), datetime(2024, 12, 31, 23, 30), datetime(2025, 1, 1, 0, 0)),
        (
            parse_cron("30 23 31 12 *"),
            datetime(2024, 12, 31, 23, 30),
            datetime(2025, 12, 31, 23, 30),
        ),
        (crontab(day=31), datetime(2024, 4, 1), datetime(2024, 5, 31, 0, 0)),
        (crontab(day=29, month=2), datetime(2024, 3, 1), datetime(2028, 2, 29, 0, 0)),
        (crontab(day=29, month=2), datetime(2024, 2, 28, 23, 59), datetime(2024, 2, 29, 0, 0)),
        (parse_cron("0 12 29 2 0"), datetime(2024, 1, 1), datetime(2032, 2, 29, 12, 0)),
        (parse_cron("0 9 * * 1-5"), datetime(2024, 1, 5, 9, 0), datetime(2024, 1, 8, 9, 0)),
        (parse_cron("0 0 13 * 5"), datetime(2024, 1, 1), datetime(2024, 9, 13, 0, 0)),
    ],
)
def test_next_match(schedule, after, expected):
    assert schedule.next_match(after) == expected


def test_next_match_agrees_with_checking_every_minute():
    schedules = [parse_cron("*/7 1-3,22 * * *"), parse_cron("5 */6 1,15,31 * 0,3"), crontab()]
    after = datetime(2024, 1, 28, 20, 13, 45)
    for schedule in schedules:
        found = schedule.next_match(after)
        stepped = after.replace(second=0) + timedelta(minutes=1)
        while not schedule(stepped):
            stepped += timedelta(minutes=1)
        assert found == stepped, schedule


def test_next_match_keeps_the_timezone():
    after = datetime(2024, 5, 1, 12, 7, tzinfo=timezone.utc)
    assert crontab(minute="*/15").next_match(after) == datetime(
        2024, 5, 1, 12, 15, tzinfo=timezone.utc
    )


@pytest.mark.parametrize("impossible", [crontab(day=30, month=2), parse_cron("0 0 31 4,6,9,11 *")])
def test_next_match_raises_when_the_schedule_never_matches(impossible):
    with pytest.raises(ValueError, match="never matches"):
        impossible.next_match(datetime(2024, 1, 1))
